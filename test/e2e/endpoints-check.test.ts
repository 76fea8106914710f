// `qm endpoints --check [--mark-inactive]` as an operator runs it: a row that answers, a row
// that is active with nothing behind it (a stale row), an inactive row; the exit codes; the
// refusals, each with its message and the registry unchanged; the question on a terminal.
import {describe, expect, it} from 'vitest'
import {QM_BIN} from '../helpers/run-qm.js'
import {freePort} from '../helpers/listen.js'
import {makeProject, service, type Project} from '../helpers/project.js'
import {runOnPty} from '../helpers/pty.js'

/**
 * A project with echo running (unless told not to start it), a stale row (old), an inactive
 * row (retired), and a row of a host whose name does not resolve (.invalid never does).
 */
async function fleetOfOne({start = true} = {}): Promise<{project: Project; stalePort: number}> {
  const project = await makeProject()
  project.writeManifest(service('echo', 'guide-call-server.mjs'))
  if (start) {
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
  }
  // The last port of the range: nothing of this test listens there.
  const stalePort = project.portRange[1]
  expect((await project.qm('register', 'old', '--port', String(stalePort))).exitCode).toBe(0)
  // `qm register NAME --inactive` is what an exported unit runs after a stop.
  expect((await project.qm('register', 'retired', '--port', String(stalePort - 1), '--inactive')).exitCode).toBe(0)
  expect((await project.qm('register', 'echo', '--host', 'gone.invalid')).exitCode).toBe(0)
  return {project, stalePort}
}

describe('qm endpoints --check', () => {
  it('shows the active rows nothing answers on as stale, exits 3, and changes nothing', async () => {
    const {project, stalePort} = await fleetOfOne()
    const before = await project.endpoints()
    const result = await project.qm('endpoints', '--all-hosts', '--check', '--timeout', '1s')
    expect(result.exitCode, result.stderr).toBe(3)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(/^HOST\s+PORT\s+NAME\s+ROW\s+PROBE\s+CHECK\s+DETAIL$/)
    expect(lines.find((line) => line.startsWith('localhost ') && / echo /.test(line))).toMatch(/^localhost\s+\d+\s+echo\s+ACTIVE\s+SERVING [\d.]+ ms\s+passing\s+1\.0\.0$/)
    expect(lines.find((line) => / old /.test(line))).toMatch(new RegExp(`^localhost\\s+${stalePort}\\s+old\\s+ACTIVE\\s+UNREACHABLE [\\d.]+ ms\\s+STALE\\s+nothing is listening on localhost:${stalePort}`))
    expect(lines.find((line) => / retired /.test(line))).toMatch(/^localhost\s+\d+\s+retired\s+INACTIVE\s+UNREACHABLE [\d.]+ ms\s+-\s+/)
    expect(lines.find((line) => line.startsWith('gone.invalid '))).toMatch(/^gone\.invalid\s+\d+\s+echo\s+ACTIVE\s+UNREACHABLE 0\.0 ms\s+unknown\s+cannot resolve gone\.invalid from here: ENOTFOUND; not dialled$/)
    expect(lines.at(-1)).toBe('4 row(s) of every host probed from here (timeout 1s): 1 passing, 1 stale (active, nothing answers), 0 failing (answer, not serving), 1 unknown (host not resolved here), 1 inactive')
    expect(result.stderr).toBe('qm endpoints --all-hosts --check --mark-inactive marks the 1 stale row(s) inactive, after asking, so the platform stops sending them Calls')
    expect(await project.endpoints()).toEqual(before)

    const json = JSON.parse((await project.qm('endpoints', '--check', '--json')).stdout)
    expect(json).toMatchObject({host: 'localhost', timeoutMs: 2000, counts: {passing: 1, stale: 1, failing: 0, unknown: 0, inactive: 1}, mark: null})
    expect(json.rows.map((row: {endpoint: {name: string}; verdict: string; probe: {status: string}}) => [row.endpoint.name, row.verdict, row.probe.status])).toEqual([
      ['echo', 'passing', 'SERVING'],
      ['retired', 'inactive', 'UNREACHABLE'],
      ['old', 'stale', 'UNREACHABLE'],
    ])
  })

  it('with --mark-inactive --yes marks the stale rows inactive and nothing else, and a second check exits 0', async () => {
    const {project} = await fleetOfOne()
    const before = await project.endpoints()
    const result = await project.qm('endpoints', '--all-hosts', '--check', '--mark-inactive', '--yes')
    expect(result.exitCode, result.stderr).toBe(3)
    const old = before.find((row) => row.name === 'old')!
    expect(result.stdout.split('\n').slice(-2)).toEqual([`marked inactive: old on localhost:${old.port}`, '1 row(s) marked inactive'])
    expect(await project.endpoints()).toEqual(before.map((row) => (row.name === 'old' ? {...row, active: false} : row)))
    const again = await project.qm('endpoints', '--all-hosts', '--check')
    expect(again.exitCode, again.stdout).toBe(0)
    // The row of the host that does not resolve is still active: nothing is known of it.
    expect(again.stdout.split('\n').at(-1)).toMatch(/: 1 passing, 0 stale, 0 failing \(answer, not serving\), 1 unknown \(host not resolved here\), 2 inactive$/)
  })

  it('asks on a terminal: no marks nothing, yes marks the stale rows', async () => {
    const {project} = await fleetOfOne()
    const before = await project.endpoints()
    const ask = () => runOnPty([process.execPath, QM_BIN, 'endpoints', '--check', '--mark-inactive'], {cwd: project.dir, env: {NO_COLOR: '1'}, columns: 200})
    const declined = ask()
    await declined.waitFor(/mark 1 stale row\(s\) inactive, so the platform stops sending them Calls\? \[y\/N\] $/)
    declined.type('n\r')
    expect(await declined.exited).toBe(3)
    expect(declined.text()).toMatch(/\[y\/N\] n\nnothing marked\n$/)
    expect(await project.endpoints()).toEqual(before)

    const accepted = ask()
    await accepted.waitFor(/\[y\/N\] $/)
    accepted.type('y\r')
    expect(await accepted.exited).toBe(3)
    const old = before.find((row) => row.name === 'old')!
    expect(accepted.text()).toContain(`marked inactive: old on localhost:${old.port}\n1 row(s) marked inactive`)
    expect(await project.endpoints()).toEqual(before.map((row) => (row.name === 'old' ? {...row, active: false} : row)))
  })

  it.each([
    [['--check', '--mark-inactive'], 'refusing to mark rows inactive without confirmation: standard input is not a terminal', 'add --yes to confirm beforehand: qm endpoints --check --mark-inactive --yes'],
    [['--all-hosts', '--mark-inactive', '--yes'], '--mark-inactive needs --check: only rows found stale by a probe just now are marked', 'qm endpoints --all-hosts --check --mark-inactive'],
    [['--check', '--yes'], '--yes confirms --mark-inactive, and there is none', 'qm endpoints --all-hosts --check --mark-inactive --yes'],
    [['--all-hosts', '--timeout', '1s'], '--timeout applies to --check only', 'qm endpoints --all-hosts --check'],
    [['--check', '--timeout', 'soon'], '--timeout must be a duration such as 500ms, 10s or 2m, got "soon"', undefined],
  ])('refuses %j with exit 2, saying why, and changes nothing', async (args, message, hint) => {
    const {project} = await fleetOfOne({start: false})
    const before = await project.endpoints()
    const result = await project.qm('endpoints', ...args)
    expect({exitCode: result.exitCode, stdout: result.stdout}).toEqual({exitCode: 2, stdout: ''})
    expect(result.stderr).toBe(`error ${message}${hint === undefined ? '' : `\nhint  ${hint}`}`)
    expect(await project.endpoints()).toEqual(before)
  })

  it('says plainly that the registry cannot be reached, exit 1', async () => {
    const project = await makeProject()
    const port = await freePort()
    project.writeManifest(service('echo', 'guide-call-server.mjs'), `registry: {url: "postgres://postgres@127.0.0.1:${port}/fleet?connect_timeout=2", host: localhost}\n`)
    const result = await project.qm('endpoints', '--all-hosts', '--check', '--mark-inactive', '--yes')
    expect({exitCode: result.exitCode, stdout: result.stdout}).toEqual({exitCode: 1, stdout: ''})
    expect(result.stderr).toBe(
      `error cannot reach the registry, database "fleet" on 127.0.0.1:${port} as user postgres: connection refused\nhint  check that PostgreSQL runs there and that registry.url (or QM_REGISTRY_URL) names it`,
    )
  })
})
