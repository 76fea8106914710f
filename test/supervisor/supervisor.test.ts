// The supervisor through the CLI and its daemon, with real child processes and signals.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {isListening} from '../../src/net/socket-table.js'
import {isAlive, killGroup, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {listenOn} from '../helpers/listen.js'
import type {StatusRow} from '../helpers/run-qm.js'

interface Row extends StatusRow {
  lastExit: {code: number | null; signal: string | null} | null
  detail: string | null
}

async function status(project: Project): Promise<{daemon: {pid: number} | null; services: Row[]}> {
  const result = await project.qm('status', '--json')
  return JSON.parse(result.stdout)
}

async function rowOf(project: Project, name: string): Promise<Row> {
  return (await status(project)).services.find((row) => row.name === name)!
}

const three = () => service('alpha', 'guide-call-server.mjs') + service('beta', 'health-server.mjs') + service('gamma', 'guide-call-server.mjs')

describe('qm start, status and stop', () => {
  it('starts services healthy, restarts one killed with SIGKILL without a command, and leaves the others alone', async () => {
    const project = await makeProject()
    project.writeManifest(three())
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    expect(started.stdout).toMatch(/✓ alpha running on port \d+ \(pid \d+\), healthy in \d+ ms/)
    const before = await status(project)
    expect(before.services.map((row) => [row.name, row.state, row.health?.status])).toEqual([
      ['alpha', 'running', 'SERVING'],
      ['beta', 'running', 'SERVING'],
      ['gamma', 'running', 'SERVING'],
    ])
    const registry = await project.endpoints()
    expect(registry.map((e) => [e.name, e.port, e.active])).toEqual(before.services.map((row) => [row.name, row.port, true]))

    const victim = before.services[1]!
    process.kill(victim.pid!, 'SIGKILL')
    const after = await waitFor(async () => {
      const row = await rowOf(project, 'beta')
      return row.state === 'running' && row.pid !== victim.pid && row.health?.status === 'SERVING' ? row : undefined
    }, 'beta to be running again with a new pid')
    expect(after.restarts).toBe(1)
    expect(after.port).toBe(victim.port)
    const others = (await status(project)).services.filter((row) => row.name !== 'beta')
    expect(others.map((row) => [row.name, row.pid, row.restarts])).toEqual(before.services.filter((row) => row.name !== 'beta').map((row) => [row.name, row.pid, 0]))
    expect((await project.qm('status')).exitCode).toBe(0)

    const stopped = await project.qm('stop')
    expect(stopped.exitCode).toBe(0)
    for (const row of before.services) expect(isListening(row.port!)).toBe(false)
    expect((await project.endpoints()).every((e) => !e.active)).toBe(true)
    const down = await project.qm('status')
    expect(down.exitCode).toBe(3)
  })

  it('backs off a service that exits at once, then marks it fatal with its exit code, and then uses no CPU', async () => {
    const project = await makeProject()
    project.writeManifest(service('broken', 'exit-at-once.mjs', '    backoff: {initial: 100ms, max: 400ms, max_failures: 4}\n'))
    const started = await project.qm('start')
    expect(started.exitCode).toBe(1)
    expect(started.stderr).toContain('✗ broken: exited with code 3 before it became healthy')
    expect(started.stderr).toContain('| exit-at-once: cannot start (on purpose)')
    const fatal = await waitFor(async () => {
      const row = await rowOf(project, 'broken')
      return row.state === 'fatal' ? row : undefined
    }, 'broken to be fatal')
    expect(fatal.lastExit).toEqual({code: 3, signal: null})
    expect(fatal.restarts).toBe(4)
    expect(fatal.detail).toBe('exited with code 3 before it became healthy')

    const log = readFileSync(join(project.dir, '.qm', 'daemon.log'), 'utf8')
    const times = [...log.matchAll(/^(\S+) broken: starting → backoff/gm)].map((m) => Date.parse(m[1]!))
    const restarts = [...log.matchAll(/^(\S+) broken: backoff → starting/gm)].map((m) => Date.parse(m[1]!))
    const delays = restarts.map((at, i) => at - times[i]!)
    expect(delays).toHaveLength(4)
    // 0, 100, 200, 400 ms: timers never fire early, so each later one waits at least its delay.
    expect(delays[0]!).toBeLessThan(delays[3]!)
    expect(delays[1]!).toBeGreaterThanOrEqual(95)
    expect(delays[2]!).toBeGreaterThanOrEqual(195)
    expect(delays[3]!).toBeGreaterThanOrEqual(395)

    const daemon = (await status(project)).daemon!.pid
    const cpu = () => {
      const fields = readFileSync(`/proc/${daemon}/stat`, 'latin1').split(') ')[1]!.split(' ')
      return Number(fields[11]) + Number(fields[12])
    }
    const before = cpu()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    // Ticks of 10 ms: a fatal service leaves the daemon idle, well under 5% of a core.
    expect(cpu() - before).toBeLessThanOrEqual(5)
  })

  it('kills a service that ignores SIGTERM, and its child, after stop_timeout, and frees the port', async () => {
    const project = await makeProject()
    project.writeManifest(service('stubborn', 'stubborn-server.mjs', '    stop_timeout: 500ms\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const row = await rowOf(project, 'stubborn')
    const log = join(project.dir, '.qm', 'logs', 'stubborn.log')
    const child = Number(await waitFor(() => /CHILD pid=(\d+)/.exec(readFileSync(log, 'utf8'))?.[1], 'the child pid in the log'))
    expect(isAlive(child)).toBe(true)
    const started = performance.now()
    const stopped = await project.qm('stop', 'stubborn')
    expect(stopped.exitCode).toBe(0)
    expect(performance.now() - started).toBeGreaterThanOrEqual(500)
    expect(isAlive(row.pid!)).toBe(false)
    expect(isAlive(child)).toBe(false)
    expect(isListening(row.port!)).toBe(false)
    expect(readFileSync(log, 'utf8')).toContain('SIGTERM ignored')
  })

  // Seven qm commands in a row: beside test/e2e/register-postgres.test.ts, which starts forty
  // qm processes at once on two cores, they once took more than the default minute.
  it('leaves services running when the daemon is killed, and the next start adopts them', {timeout: 150_000}, async () => {
    const project = await makeProject()
    project.writeManifest(three())
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await status(project)
    const daemon = before.daemon!.pid
    process.kill(daemon, 'SIGKILL')
    await waitFor(() => !isAlive(daemon), 'the daemon to die')
    for (const row of before.services) expect(isAlive(row.pid!)).toBe(true)

    const orphaned = await project.qm('status')
    expect(orphaned.exitCode).toBe(3)
    expect(orphaned.stdout).toContain('no qm daemon runs for this manifest: states are from its records; 3 process(es) still run, and qm start adopts them')
    const offline = JSON.parse((await project.qm('status', '--json')).stdout)
    expect(offline.daemon).toBeNull()
    expect(offline.services.map((r: Row) => [r.name, r.state, r.pid])).toEqual(before.services.map((r) => [r.name, 'running', r.pid]))

    const again = await project.qm('start')
    expect(again.exitCode, again.stderr).toBe(0)
    const after = await status(project)
    expect(after.daemon!.pid).not.toBe(daemon)
    expect(after.services.map((r) => [r.name, r.state, r.pid, r.port])).toEqual(before.services.map((r) => [r.name, 'running', r.pid, r.port]))
    await waitFor(async () => (await rowOf(project, 'alpha')).health?.status === 'SERVING', 'the adopted alpha to be probed SERVING')
  })

  it('makes one daemon and one copy of each service when two qm start run at the same instant', async () => {
    const project = await makeProject()
    project.writeManifest(three())
    const [a, b] = await Promise.all([project.qmStart('start'), project.qmStart('start')])
    expect([a.exitCode, b.exitCode]).toEqual([0, 0])
    const rows = (await status(project)).services
    expect(rows.every((row) => row.state === 'running')).toBe(true)
    const pids = rows.map((row) => row.pid)
    expect(new Set(pids).size).toBe(3)
    const daemonLog = readFileSync(join(project.dir, '.qm', 'daemon.log'), 'utf8')
    expect(daemonLog.match(/daemon \d+ serving/g)).toHaveLength(1)
    for (const row of rows) expect(daemonLog.match(new RegExp(`${row.name}: stopped → starting`, 'g'))).toHaveLength(1)
  })
})

describe('qm start refusals', () => {
  it('names the service and leaves no process and no registry row for a missing executable, a non-executable, a missing cwd and a taken port', async () => {
    const project = await makeProject()
    const taken = project.portRange[0] + 7
    await listenOn(taken)
    project.writeManifest(
      '  missing:\n    command: [no-such-program-qm]\n' +
        `  notexec:\n    command: [${join(project.dir, 'services.yaml')}]\n` +
        `  nocwd:\n    command: [${process.execPath}, x.js]\n    cwd: ./not-here\n` +
        service('portheld', 'guide-call-server.mjs', `    port: ${taken}\n`),
    )
    const result = await project.qm('start')
    expect(result.exitCode).toBe(1)
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('✗'))
    expect(lines).toEqual([
      '✗ missing: executable "no-such-program-qm" not found on PATH',
      `✗ notexec: ${join(project.dir, 'services.yaml')} is not executable (mode 0644)`,
      `✗ nocwd: working folder ${join(project.dir, 'not-here')} does not exist`,
      expect.stringMatching(new RegExp(`^✗ portheld: port ${taken} is already in use: pid ${process.pid} \\(.*node.*\\) listens on 127\\.0\\.0\\.1:${taken}$`)),
    ])
    expect(await project.endpoints()).toEqual([])
    const rows = (await status(project)).services
    expect(rows.map((row) => [row.name, row.state, row.pid])).toEqual([
      ['missing', 'stopped', null],
      ['notexec', 'stopped', null],
      ['nocwd', 'stopped', null],
      ['portheld', 'stopped', null],
    ])
  })

  it('refuses a broken certificate set before spawning anything', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'guide-call-server.mjs'))
    const key = join(project.dir, 'certs', 'server.key')
    const other = join(project.dir, 'certs', 'client.key')
    const swapped = readFileSync(other)
    const {writeFileSync} = await import('node:fs')
    writeFileSync(key, swapped, {mode: 0o600})
    const result = await project.qm('start')
    expect(result.exitCode).toBe(1)
    expect(result.stderr.split('\n')[0]).toBe(`✗ alpha: ${key} does not match server.crt`)
    expect(await project.endpoints()).toEqual([])
    expect(project.recordedPids()).toEqual([])
  })
})

describe('the process group', () => {
  it('cleans up after itself even when a test dies: killGroup ends a whole group', () => {
    expect(() => killGroup(2 ** 22 + 12345)).not.toThrow()
  })
})
