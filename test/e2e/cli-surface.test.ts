// The command line as people coming from PM2, docker compose and supervisorctl type it,
// through the built CLI, and on a real terminal where the output differs: logs of several
// services, -f as follow, help and version, did-you-mean, aliases, completion, a status
// that fits 80 columns and says why a service failed, one account per service at start.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {finalScreen, runOnPty} from '../helpers/pty.js'
import {lacks} from '../helpers/requirements.js'
import {QM_BIN, runQm} from '../helpers/run-qm.js'

const talker = (name: string) => service(name, 'talker-server.mjs', `    env: {TALKER_NAME: ${name}, TICK_MS: "50"}\n`)

async function talkingProject(): Promise<Project> {
  const project = await makeProject()
  project.writeManifest(talker('svc_a') + talker('svc_b'))
  expect((await project.qm('start')).exitCode).toBe(0)
  // A few ticks of each, so both logs have lines.
  await waitFor(async () => (await project.qm('logs', 'svc_b', '-n', '3')).stdout.split('\n').length === 3, 'three lines in svc_b')
  return project
}

describe('qm logs', () => {
  it('merges every service in time order behind "name |" prefixes, prints one named instance bare, and shows times with --timestamps', async () => {
    const project = await talkingProject()
    const all = await project.qm('logs', '-n', '4', '--timestamps')
    expect(all.exitCode, all.stderr).toBe(0)
    const lines = all.stdout.split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(8)
    const parsed = lines.map((line) => /^(svc_a|svc_b) \| (\S+Z) (.*)$/.exec(line))
    expect(parsed.every((m) => m !== null), all.stdout).toBe(true)
    expect(new Set(parsed.map((m) => m![1]))).toEqual(new Set(['svc_a', 'svc_b']))
    const times = parsed.map((m) => m![2]!)
    expect([...times].sort()).toEqual(times)
    // stdout and stderr both reach the log.
    expect(parsed.some((m) => /tick \d*[13579]$/.test(m![3]!))).toBe(true)

    const one = await project.qm('logs', 'svc_a', '-n', '3')
    expect(one.stdout.split('\n')).toEqual([expect.stringMatching(/^svc_a tick \d+$/), expect.stringMatching(/^svc_a tick \d+$/), expect.stringMatching(/^svc_a tick \d+$/)])
    expect((await project.qm('logs', 'svc_a', '--since', '2099-01-01T00:00:00Z')).stdout).toBe('')
    expect((await project.qm('logs', 'svc_a', '--since', '1h', '-n', '2')).stdout.split('\n')).toHaveLength(2)
    expect(await project.qm('logs', 'svc_a', '--since', 'yesterday')).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error --since yesterday is not a duration or a time\nhint  give a duration back from now (10m, 2h) or an ISO 8601 time (2026-12-01T15:00:00Z)',
    })
  })

  it('takes -f as follow, and the manifest from -f before the command, as docker compose does', {timeout: 150_000}, async () => {
    const project = await talkingProject()
    const elsewhere = mkdtempSync(join(tmpdir(), 'qm-elsewhere-'))
    const follow = spawn(process.execPath, [QM_BIN, '-f', join(project.dir, 'services.yaml'), 'logs', 'svc_a', 'svc_b', '-f', '-n', '0'], {cwd: elsewhere, env: {...process.env, NO_COLOR: '1'}})
    let seen = ''
    let errors = ''
    follow.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()))
    follow.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    // Up to a minute: a file running beside this one may start forty qm processes at once
    // (test/e2e/register-postgres.test.ts), and this follower is one more Node start-up
    // among them on two cores (it once saw nothing in 15 s, after a 28 s qm start).
    await waitFor(() => {
      if (follow.exitCode !== null) throw new Error(`qm logs -f exited ${follow.exitCode}: ${errors}`)
      return /svc_a \| svc_a tick \d+\n/.test(seen) && /svc_b \| svc_b tick \d+\n/.test(seen)
    }, 'new lines of both services', 60_000).catch((error: Error) => {
      // What it printed, and what the logs hold now, say which side stopped.
      const tail = (name: string) => {
        try {
          return JSON.stringify(readFileSync(join(project.dir, '.qm', 'logs', `${name}.log`), 'utf8').slice(-120))
        } catch (missing) {
          return (missing as Error).message
        }
      }
      const tails = ['svc_a', 'svc_b'].map((name) => `${name}.log ends: ${tail(name)}`)
      follow.kill('SIGKILL')
      throw new Error(`${error.message}\nprinted: ${JSON.stringify(seen.slice(-300))}\nstderr: ${errors}\n${tails.join('\n')}`)
    })
    follow.kill('SIGINT')
    const code = await new Promise((resolve) => follow.once('exit', resolve))
    expect(code).toBe(0)
    expect((await runQm(['--manifest', join(project.dir, 'services.yaml'), 'logs', 'svc_a', '-n', '1'], {cwd: elsewhere})).stdout).toMatch(/^svc_a tick \d+$/)
  })
})

describe('help, version and mistakes', () => {
  it('answers help and version the ways people ask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-help-'))
    const help = await runQm(['help'], {cwd: dir})
    expect(help.exitCode).toBe(0)
    expect(help.stdout).toContain('COMMANDS')
    for (const args of [['help', 'status'], ['status', '-h'], ['status', '--help']]) {
      const result = await runQm(args, {cwd: dir})
      expect(result.exitCode, args.join(' ')).toBe(0)
      expect(result.stdout, args.join(' ')).toContain('$ qm status [NAMES...]')
    }
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
    for (const args of [['version'], ['-v'], ['--version']]) {
      const result = await runQm(args, {cwd: dir})
      expect({args, code: result.exitCode, line: result.stdout.split(' ')[0]}).toEqual({args, code: 0, line: `qm/${version}`})
    }
  })

  it('refuses an unknown command or flag in its own words, with the nearest one, exit 2', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a'))
    expect(await project.qm('statsu')).toEqual({exitCode: 2, stdout: '', stderr: 'error unknown command "statsu"\nhint  did you mean "status"? qm help lists the commands'})
    expect(await project.qm('log', 'echo')).toEqual({exitCode: 2, stdout: '', stderr: 'error unknown command "log"\nhint  did you mean "logs"? qm help lists the commands'})
    expect(await project.qm('logs', '--folow')).toEqual({exitCode: 2, stdout: '', stderr: 'error unknown flag --folow\nhint  did you mean --follow? qm logs --help lists its flags'})
    expect(await project.qm('logs', 'svc_a', '-n')).toEqual({exitCode: 2, stdout: '', stderr: 'error flag --tail expects a value\nhint  qm logs --help lists its flags'})
    const json = await project.qm('status', '--wach', '--json')
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({code: 'USAGE', message: 'unknown flag --wach', hint: 'did you mean --watch? qm status --help lists its flags'})
  })

  it('answers qm status nobody the same with and without a daemon: exit 2 and the services', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a'))
    const expected = {exitCode: 2, stdout: '', stderr: `error unknown service "nobody"\nhint  services in ${join(project.dir, 'services.yaml')}: svc_a`}
    expect(await project.qm('status', 'nobody')).toEqual(expected)
    expect((await project.qm('start')).exitCode).toBe(0)
    expect(await project.qm('status', 'nobody')).toEqual(expected)
  })
})

describe('aliases and completion', () => {
  it('takes ps, ls and list for status', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const names = async (verb: string) => JSON.parse((await project.qm(verb, '--json')).stdout).services.map((s: {name: string; state: string}) => [s.name, s.state])
    for (const verb of ['ps', 'ls', 'list']) expect(await names(verb), verb).toEqual([['svc_a', 'running']])
  })

  it('completes commands, flags and the service names of the manifest in bash', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a') + service('worker', 'talker-server.mjs', '    instances: 2\n'))
    expect((await project.qm('completion', '--services')).stdout.split('\n')).toEqual(['svc_a', 'worker', 'worker_2'])
    const script = (await project.qm('completion', 'bash')).stdout
    const complete = (...words: string[]) => {
      const shell = `qm() { ${JSON.stringify(process.execPath)} ${JSON.stringify(QM_BIN)} "$@"; }\n${script}\nCOMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _qm_complete; echo "\${COMPREPLY[@]}"`
      return spawnSync('bash', ['-c', shell], {cwd: project.dir, encoding: 'utf8'}).stdout.trim()
    }
    expect(complete('qm', 'sta')).toBe('start status')
    expect(complete('qm', 'logs', 'wor')).toBe('worker worker_2')
    expect(complete('qm', 'logs', '--fo')).toBe('--follow')
    expect(complete('qm', 'certs', 'i')).toBe('init')
    expect((await project.qm('completion', 'zsh')).stdout).toContain('compdef _qm_complete qm')
    expect((await project.qm('completion', 'fish')).stdout).toContain("complete -c qm -n 'not __fish_use_subcommand' -a '(qm completion --services 2>/dev/null)'")
  })
})

describe.skipIf(lacks('tmux'))('on an 80-column terminal', () => {
  it('fits qm status in 80 columns and says under a fatal service why it failed', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a') + service('broken', 'exit-at-once.mjs', '    backoff: {max_failures: 1}\n'))
    expect((await project.qm('start')).exitCode).toBe(1)
    await waitFor(async () => JSON.parse((await project.qm('status', '--json', 'broken')).stdout).services[0].state === 'fatal', 'broken fatal')
    const pty = runOnPty([process.execPath, QM_BIN, 'status'], {cwd: project.dir, columns: 80})
    expect(await pty.exited).toBe(3)
    const lines = pty.text().trimEnd().split('\n')
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/^NAME +STATE +PID +PORT +HEALTH/)
    expect(lines.find((line) => line.startsWith('broken'))).toMatch(/^broken +fatal /)
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}↳ exited with code 3 before it became healthy; last line: exit-at-once: can/))
    // Off a terminal the whole table, wider than 80.
    const piped = await project.qm('status')
    expect(piped.stdout.split('\n')[0]).toMatch(/^NAME +STATE +PID +PORT +HEALTH +VERSION +UPTIME +RESTARTS +CPU +MEM$/)
    expect(piped.stdout).toContain('  ↳ exited with code 3 before it became healthy; last line: exit-at-once: cannot start (on purpose)')
  })

  it('gives one account per service from qm start, restart and stop: the live line that ends in it, and no other line for it', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a') + service('svc_b', 'talker-server.mjs', '    depends_on: [svc_a]\n'))
    const linesOf = (lines: string[], name: string) => lines.filter((line) => line.includes(name))
    const started = await finalScreen([process.execPath, QM_BIN, 'start'], {cwd: project.dir, columns: 100})
    expect(started.exitCode).toBe(0)
    for (const name of ['svc_a', 'svc_b']) {
      expect(linesOf(started.lines, name), started.lines.join('\n')).toEqual([expect.stringMatching(new RegExp(`^✔ ${name} running on port \\d+ \\(pid \\d+\\), healthy in \\d+ ms$`))])
    }
    expect(started.lines.join('\n')).not.toMatch(/SERVING in/)
    // With the daemon running, these go through the fast path.
    const restarted = await finalScreen([process.execPath, QM_BIN, 'restart', 'svc_b'], {cwd: project.dir, columns: 100})
    expect(restarted.exitCode).toBe(0)
    expect(linesOf(restarted.lines, 'svc_b'), restarted.lines.join('\n')).toEqual([expect.stringMatching(/^✔ svc_b running on port \d+ \(pid \d+\), healthy in \d+ ms$/)])
    const stopped = await finalScreen([process.execPath, QM_BIN, 'stop'], {cwd: project.dir, columns: 100})
    expect(stopped.exitCode).toBe(0)
    for (const name of ['svc_a', 'svc_b']) expect(linesOf(stopped.lines, name), stopped.lines.join('\n')).toEqual([`✔ ${name} stopped`])
  })

  it('shows a service that waits on depends_on as waiting for it, on the live line', async () => {
    const project = await makeProject()
    project.writeManifest(service('slow', 'talker-server.mjs', '    env: {READY_DELAY_MS: "1500"}\n') + service('after', 'talker-server.mjs', '    depends_on: [slow]\n'))
    const pty = runOnPty([process.execPath, QM_BIN, 'start'], {cwd: project.dir, columns: 100})
    expect(await pty.exited).toBe(0)
    expect(pty.text()).toMatch(/after\n\s+› waiting for slow/)
  })

  it('keeps the indent of qm doctor’s wrapped lines', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a'))
    const pty = runOnPty([process.execPath, QM_BIN, 'doctor'], {cwd: project.dir, columns: 80})
    await pty.exited
    const lines = pty.text().trimEnd().split('\n')
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80)
    const indent = lines[0]!.indexOf(lines[0]!.split(/\s+/)[2]!)
    for (const line of lines.filter((l) => !/^(OK|WARN|FAIL) /.test(l) && !/^\d+ checks/.test(l) && l !== '')) {
      expect(line.slice(0, indent).trim(), line).toBe('')
    }
  })
})

describe('exports that do not surprise', () => {
  it('refuses kubernetes without --image, and takes --project and project: for names', async () => {
    const project = await makeProject()
    project.writeManifest(talker('svc_a'))
    expect(await project.qm('export', 'kubernetes')).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: "error --image is required: the image that holds the services and qm\nhint  for example --image registry.example/ms:1.4; the image holds the manifest's folder at /app and qm on its PATH",
    })
    expect(await project.endpoints()).toEqual([])
    const k8s = await project.qm('export', 'kubernetes', '--image', 'registry.example/ms:1.4', '--project', 'billing')
    expect(k8s.stdout).toContain('app.kubernetes.io/part-of: billing')
    writeFileSync(join(project.dir, 'services.yaml'), readFileSync(join(project.dir, 'services.yaml'), 'utf8').replace('version: 1\n', 'version: 1\nproject: payments\n'))
    const units = await project.qm('export', 'systemd', '--out', 'units', '--user-name', 'svc')
    expect(units.exitCode, units.stderr).toBe(0)
    expect(units.stderr).toContain('start qm-payments.target')
    expect(units.stderr).not.toContain('no User=')
    expect(readFileSync(join(project.dir, 'units', 'qm-svc_a.service'), 'utf8')).toMatch(/^User=svc$/m)
  })
})
