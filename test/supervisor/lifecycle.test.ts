// Logs, rotation, manifest edits, instances and the foreground supervisor.
import {existsSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {isListening} from '../../src/net/socket-table.js'
import {isAlive, logWriters, makeProject, service, waitFor, type Project} from '../helpers/project.js'

async function rows(project: Project) {
  const result = await project.qm('status', '--json')
  return JSON.parse(result.stdout).services as {name: string; state: string; pid: number | null; port: number | null}[]
}

/** The pipe a log process reads, from its command line. */
function pipeOf(pid: number): string | undefined {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((arg) => arg.endsWith('.fifo'))
}

/**
 * Let go, the old log process finds its pipe without a writer and ends; the new one goes on
 * alone, and every line of talky's log is whole: two readers of one pipe would each take
 * some of its bytes.
 */
async function expectOldLogProcessGoneAndLinesWhole(logs: string, old: number): Promise<void> {
  await waitFor(() => (logWriters(logs).length === 1 && !logWriters(logs).includes(old)) || undefined, 'the old log process to end')
  const ticks = () => readFileSync(join(logs, 'talky.log'), 'utf8').split('\n').filter((line) => line.includes('talky tick'))
  const seen = ticks().length
  await waitFor(() => ticks().length > seen + 5 || undefined, 'more ticks of the new process')
  const lines = readFileSync(join(logs, 'talky.log'), 'utf8').split('\n').filter((line) => line !== '')
  expect(lines.filter((line) => !/^\S+Z (talky tick \d+|READY port=\d+)$/.test(line))).toEqual([])
}

/**
 * talky started, stopped while its log process is held still (as a busy host's scheduler
 * can), and started again: the new process writes into the other pipe, whose log process
 * is `reader`, and the first log process has ended since.
 */
async function startedOnTheOtherPipe(): Promise<{project: Project; logs: string; reader: number}> {
  const project = await makeProject()
  project.writeManifest(service('talky', 'talking-guide-server.mjs', '    env: {TALKER_NAME: talky, TICK_MS: "20"}\n'))
  expect((await project.qm('start')).exitCode).toBe(0)
  const logs = join(project.dir, '.qm', 'logs')
  const [first] = logWriters(logs)
  expect(pipeOf(first!)).toBe(join(logs, '.talky.log.fifo'))
  process.kill(first!, 'SIGSTOP')
  let reader: number | undefined
  try {
    const stopped = await project.qm('stop')
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    reader = logWriters(logs).find((pid) => pid !== first)
    expect(pipeOf(reader!)).toBe(join(logs, '.talky.log.next.fifo'))
  } finally {
    process.kill(first!, 'SIGCONT')
  }
  await expectOldLogProcessGoneAndLinesWhole(logs, first!)
  return {project, logs, reader: reader!}
}

/** The process on the other pipe, rolled out: the new one writes into the first pipe, where no log process reads now. */
async function expectRolledOutIntoTheFirstPipe(project: Project, logs: string, reader: number): Promise<void> {
  const rolled = await project.qm('rollout', 'talky')
  expect(rolled.exitCode, rolled.stderr).toBe(0)
  const [third] = await waitFor(() => logWriters(logs).filter((pid) => pid !== reader), "the new process's log process")
  expect(pipeOf(third!)).toBe(join(logs, '.talky.log.fifo'))
  await expectOldLogProcessGoneAndLinesWhole(logs, reader)
}

describe('logs', () => {
  it('captures stdout and stderr in .qm/logs/NAME.log and qm logs prints the last lines', async () => {
    const project = await makeProject()
    project.writeManifest(service('stubborn', 'stubborn-server.mjs', '    stop_timeout: 200ms\n'))
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    await waitFor(() => readFileSync(join(project.dir, '.qm', 'logs', 'stubborn.log'), 'utf8').includes('READY port='), 'READY in the log')
    const logs = await project.qm('logs', 'stubborn', '-n', '5')
    expect(logs.exitCode).toBe(0)
    expect(logs.stdout).toMatch(/CHILD pid=\d+\nREADY port=\d+/)
    const unknown = await project.qm('logs', 'nobody')
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr.split('\n')[0]).toBe('error unknown service "nobody"')
  })

  it('gives a respawned service that is still starting its own log process a second after its spawn, and its log every line', async () => {
    const project = await makeProject()
    // The respawn binds only once the gate exists, so it is still starting when its first line must be in the log.
    const gate = join(project.dir, 'bind-now')
    project.writeManifest(service('slow', 'guide-call-server.mjs', `    env: {READY_WHEN_FILE: ${JSON.stringify(gate)}}\n    health: {start_timeout: 60s}\n`))
    writeFileSync(gate, '')
    expect((await project.qm('start')).exitCode).toBe(0)
    const [before] = await rows(project)
    const logs = join(project.dir, '.qm', 'logs')
    const log = join(logs, 'slow.log')
    await waitFor(() => readFileSync(log, 'utf8').includes('READY port='), 'READY in the log')
    rmSync(gate)
    process.kill(before!.pid!, 'SIGKILL')
    await waitFor(() => readFileSync(log, 'utf8').includes('WAITING for'), "the respawn's first line in the log", 10_000)
    const [starting] = await rows(project)
    expect(starting).toMatchObject({state: 'starting'})
    expect(starting!.pid).not.toBe(before!.pid)
    expect(logWriters(logs)).toHaveLength(1)
    writeFileSync(gate, '')
    await waitFor(async () => (await rows(project))[0]?.state === 'running' || undefined, 'slow running again')
    await waitFor(() => readFileSync(log, 'utf8').match(/ READY port=\d+\n/g)?.length === 2 || undefined, "the respawn's READY line in the log")
    expect(readFileSync(log, 'utf8').split('\n').filter((line) => line !== '').map((line) => line.replace(/^\S+Z /, '').replace(/\d+$/, 'N'))).toEqual(['READY port=N', `WAITING for ${gate}`, 'READY port=N'])
    expect(logWriters(logs)).toHaveLength(1)
  })

  it("gives a respawn the service's other pipe while the last process's log process has not yet seen its end, so no two log processes share one pipe", async () => {
    const project = await makeProject()
    project.writeManifest(service('talky', 'talker-server.mjs', '    env: {TALKER_NAME: talky, TICK_MS: "20"}\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const [before] = await rows(project)
    const logs = join(project.dir, '.qm', 'logs')
    const [first] = logWriters(logs)
    expect(pipeOf(first!)).toBe(join(logs, '.talky.log.fifo'))
    // The old log process is held still as a busy host's scheduler can: it cannot see the
    // end of its pipe before the respawn.
    process.kill(first!, 'SIGSTOP')
    try {
      process.kill(before!.pid!, 'SIGKILL')
      await waitFor(async () => {
        const [now] = await rows(project)
        return (now?.state === 'running' && now.pid !== before!.pid) || undefined
      }, 'talky running in a new process')
      const [second] = await waitFor(() => logWriters(logs).filter((pid) => pid !== first), 'the new process\'s log process')
      expect(pipeOf(second!)).toBe(join(logs, '.talky.log.next.fifo'))
    } finally {
      process.kill(first!, 'SIGCONT')
    }
    await expectOldLogProcessGoneAndLinesWhole(logs, first!)
  })

  it("gives a start right after a stop the service's other pipe while the stopped process's log process has not yet seen its end", async () => {
    const {project, logs, reader} = await startedOnTheOtherPipe()
    await expectRolledOutIntoTheFirstPipe(project, logs, reader)
  })

  it('knows which pipe a process it adopted writes into, from /proc, and rolls it out into the other', async () => {
    const {project, logs, reader} = await startedOnTheOtherPipe()
    const daemon = project.daemonPid()!
    process.kill(daemon, 'SIGKILL')
    await waitFor(() => !isAlive(daemon), 'the daemon to die')
    const adopted = await project.qm('start')
    expect(adopted.exitCode, adopted.stderr).toBe(0)
    await expectRolledOutIntoTheFirstPipe(project, logs, reader)
  })

  it('rotates a log at max_size and keeps only `keep` old files while the service writes on', async () => {
    const project = await makeProject()
    project.writeManifest(service('chatty', 'chatty-server.mjs', '    logs: {max_size: 20KB, keep: 2}\n'))
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const log = join(project.dir, '.qm', 'logs', 'chatty.log')
    await waitFor(() => existsSync(`${log}.2`), 'a second rotated file', 20_000)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(existsSync(`${log}.3`)).toBe(false)
    // Rotated before a line would pass max_size: full to within one line (100 bytes and its time).
    expect(statSync(`${log}.1`).size).toBeLessThanOrEqual(20 * 1024)
    expect(statSync(`${log}.1`).size).toBeGreaterThan(20 * 1024 - 125)
    // The service still writes into the live file after rotations.
    const size = statSync(log).size
    await waitFor(() => statSync(log).size !== size, 'the live log to grow or rotate again')
    expect((await rows(project))[0]!.state).toBe('running')
  })
})

describe('manifest changes', () => {
  it('applies an edited manifest on qm start: new starts, removed stops and loses its row, changed restarts, the rest keep their pid', async () => {
    const project = await makeProject()
    project.writeManifest(service('keep', 'guide-call-server.mjs') + service('change', 'guide-call-server.mjs') + service('drop', 'guide-call-server.mjs'))
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const before = new Map((await rows(project)).map((row) => [row.name, row]))
    project.writeManifest(
      service('keep', 'guide-call-server.mjs') +
        service('change', 'guide-call-server.mjs', '    env: {SERVICE_VERSION: 2.0.0}\n') +
        service('added', 'health-server.mjs'),
    )
    const applied = await project.qm('start', '--json')
    expect(applied.exitCode, applied.stderr).toBe(0)
    expect(JSON.parse(applied.stdout).reload).toEqual({added: ['added'], removed: ['drop'], restarted: ['change'], unchanged: ['keep']})
    const after = new Map((await rows(project)).map((row) => [row.name, row]))
    expect([...after.keys()]).toEqual(['keep', 'change', 'added'])
    expect(after.get('keep')!.pid).toBe(before.get('keep')!.pid)
    expect(after.get('change')!.pid).not.toBe(before.get('change')!.pid)
    expect(after.get('added')!.state).toBe('running')
    expect(isAlive(before.get('drop')!.pid!)).toBe(false)
    expect((await project.endpoints()).map((e) => e.name).sort()).toEqual(['added', 'change', 'keep'])
  })
})

describe('instances', () => {
  it('runs N processes with a port and registry row each, named NAME, NAME_2, …', async () => {
    const project = await makeProject()
    project.writeManifest(service('worker', 'guide-call-server.mjs', '    instances: 3\n'))
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const all = await rows(project)
    expect(all.map((row) => [row.name, row.state])).toEqual([
      ['worker', 'running'],
      ['worker_2', 'running'],
      ['worker_3', 'running'],
    ])
    expect(new Set(all.map((row) => row.port)).size).toBe(3)
    expect((await project.endpoints()).map((e) => [e.name, e.active])).toEqual([
      ['worker', true],
      ['worker_2', true],
      ['worker_3', true],
    ])
    // One log process for the three, started with them; each instance's READY line in its own log.
    const logs = join(project.dir, '.qm', 'logs')
    const [writer] = logWriters(logs)
    expect(logWriters(logs)).toEqual([writer])
    for (const name of ['worker', 'worker_2', 'worker_3']) {
      await waitFor(() => / READY port=\d+\n/.test(readFileSync(join(logs, `${name}.log`), 'utf8')) || undefined, `${name}'s READY line`)
    }
    const one = await project.qm('stop', 'worker_2')
    expect(one.stdout).toBe('worker_2 stopped')
    expect((await rows(project)).map((row) => row.state)).toEqual(['running', 'stopped', 'running'])
    // It serves the two still running; their stop ends it.
    expect(isAlive(writer!)).toBe(true)
    expect((await project.qm('stop')).exitCode).toBe(0)
    await waitFor(() => !isAlive(writer!) || undefined, 'the log process to end with the last service')
  })
})

describe('dependencies', () => {
  it('starts a dependency first and stops its dependants first', async () => {
    const project = await makeProject()
    project.writeManifest(service('api', 'guide-call-server.mjs', '    depends_on: [db]\n') + service('db', 'health-server.mjs'))
    const started = await project.qm('start', 'api')
    expect(started.exitCode).toBe(0)
    const order = started.stderr.split('\n').filter((line) => line.includes('→ running'))
    expect(order.map((line) => line.split(':')[0])).toEqual(['db', 'api'])
    const stopped = await project.qm('stop', 'db')
    const stopOrder = stopped.stderr.split('\n').filter((line) => line.includes('→ stopped'))
    expect(stopOrder.map((line) => line.split(':')[0])).toEqual(['api', 'db'])
  })
})

describe('qm up', () => {
  it('runs in the foreground with name-prefixed lines and stops everything on SIGTERM', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'stubborn-server.mjs', '    stop_timeout: 300ms\n') + service('beta', 'health-server.mjs'))
    const up = project.qmStart('up')
    let output = ''
    up.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    await waitFor(() => output.includes('beta  | READY port=') && output.includes('alpha | READY port='), 'both READY lines, prefixed')
    await waitFor(async () => (await rows(project)).every((row) => row.state === 'running'), 'both running (qm status reaches qm up)')
    const ports = (await rows(project)).map((row) => row.port!)
    up.kill('SIGTERM')
    const result = await up
    expect(result.exitCode).toBe(0)
    expect(output).toContain('alpha | qm: alpha: running → stopping')
    for (const port of ports) expect(isListening(port)).toBe(false)
    expect(project.daemonPid()).toBeUndefined()
  })

  it('refuses a service the manifest does not have, before it starts anything', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    const result = await project.qm('up', 'nosuch')
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(`error unknown service "nosuch"\nhint  services in ${join(project.dir, 'services.yaml')}: alpha`)
    expect(result.stdout).toBe('')
    expect(project.daemonPid()).toBeUndefined()
    expect((await rows(project)).map((row) => [row.name, row.state, row.pid, row.port])).toEqual([['alpha', 'stopped', null, null]])
    expect(await project.endpoints()).toEqual([])
  })
})

describe('qm unregister', () => {
  it('refuses to remove the row of a running service, and removes it once stopped', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'guide-call-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const [row] = await rows(project)
    const refused = await project.qm('unregister', 'alpha')
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toBe(`error alpha is running (pid ${row!.pid}); its row is how the platform finds it\nhint  qm stop alpha first`)
    expect((await project.endpoints()).map((e) => e.name)).toEqual(['alpha'])
    await project.qm('stop', 'alpha')
    const removed = await project.qm('unregister', 'alpha')
    expect(removed.exitCode).toBe(0)
    expect(await project.endpoints()).toEqual([])
  })
})

/**
 * A service that ignores SIGTERM, made unhealthy until liveness restarts it: the restart's
 * kill then takes its whole deadline (1 s for a liveness restart).
 */
async function beginLivenessRestart(project: Project) {
  project.writeManifest(service('sick', 'stubborn-server.mjs', '    stop_timeout: 6s\n    health: {interval: 200ms, failure_threshold: 2}\n'))
  expect((await project.qm('start')).exitCode).toBe(0)
  const [before] = await rows(project)
  process.kill(before!.pid!, 'SIGUSR1')
  const log = join(project.dir, '.qm', 'daemon.log')
  await waitFor(() => readFileSync(log, 'utf8').includes('sick: unhealthy → stopping: 2 failed probes in a row'), 'the liveness restart to begin')
  return {before, log}
}

describe('liveness', () => {
  it('restarts a service after failure_threshold failed probes, and an operator stop during that restart leaves it stopped', async () => {
    const project = await makeProject()
    // It ignores SIGTERM, so the restart's kill takes its whole deadline (1 s for a liveness
    // restart). The CLI's stop may come during that kill or after it; either way the service
    // must end stopped, with no process left. test/supervisor/core.test.ts makes the stop
    // come during the kill, deterministically.
    const {before, log} = await beginLivenessRestart(project)
    const stopped = await project.qm('stop', 'sick')
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [after] = await rows(project)
    expect(after).toMatchObject({state: 'stopped', pid: null})
    expect(isAlive(before!.pid!)).toBe(false)
    const text = readFileSync(log, 'utf8')
    // Whatever the order (during the kill, during the start after it, or once it ran again
    // on a slow machine), the operator's stop is the last word.
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/sick: stopping → stopped: stopped by operator$/)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect((await rows(project))[0]).toMatchObject({state: 'stopped', pid: null})
  })

  it('an operator start during a liveness restart leaves one log process, which writes every line', async () => {
    const project = await makeProject()
    const {before, log} = await beginLivenessRestart(project)
    // The restart's kill takes its 1 s deadline (SIGTERM is ignored): the start comes during it.
    const started = await project.qm('start', 'sick')
    expect(started.exitCode, started.stderr).toBe(0)
    const [after] = await waitFor(async () => {
      const found = await rows(project)
      return found[0]?.state === 'running' && found[0].pid !== before!.pid ? found : undefined
    }, 'sick running again in a new process')
    // A second log process on the same pipe would split the lines between two readers.
    const logs = join(project.dir, '.qm', 'logs')
    await waitFor(() => logWriters(logs).length === 1 || undefined, 'one log process for sick', 5000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(logWriters(logs)).toHaveLength(1)
    // Each process's READY line, whole, in the one log.
    await waitFor(() => readFileSync(join(logs, 'sick.log'), 'utf8').match(/ READY port=\d+\n/g)?.length === 2 || undefined, 'both processes\' READY lines in the log')
    expect(after!.pid).not.toBe(before!.pid)
  })
})
