// The supervisor core in-process, on a virtual clock: the state machine's own timers
// (backoff, liveness interval, reset_after) move only when the test advances them, while
// the services, probes and signals are real. Each test takes as long as its processes take
// to start and end, not as long as the delays it steps through.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {loadManifest} from '../../src/manifest/load.js'
import {Supervisor} from '../../src/supervisor/supervisor.js'
import type {Transition} from '../../src/supervisor/states.js'
import {killGroup, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {VirtualClock} from '../helpers/virtual-clock.js'

interface Core {
  supervisor: Supervisor
  clock: VirtualClock
  moves: Transition[]
  /** "from → to" of one service's moves, in order. */
  path(name: string): string[]
}

async function openCore(project: Project): Promise<Core> {
  const manifest = await loadManifest({flag: undefined, env: {}, cwd: project.dir})
  const clock = new VirtualClock()
  const moves: Transition[] = []
  const supervisor = await Supervisor.open(manifest, {clock, onTransition: (t) => moves.push(t)})
  onTestFinished(async () => {
    const pids = supervisor.status([]).flatMap((row) => (row.pid === null ? [] : [row.pid]))
    await supervisor.close({stopServices: true})
    for (const pid of pids) killGroup(pid)
  })
  return {supervisor, clock, moves, path: (name) => moves.filter((t) => t.name === name).map((t) => `${t.from} → ${t.to}`)}
}

const stateOf = (core: Core, name: string) => core.supervisor.status([name])[0]!.state

/** Waits for the service to have printed it: a signal is handled a moment after it is sent. */
async function saysInLog(project: Project, name: string, text: string): Promise<void> {
  const log = join(project.dir, '.qm', 'logs', `${name}.log`)
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes(text), `${name} to print ${text}`)
}

describe('the supervisor core on a virtual clock', () => {
  it('restarts at once after the first failure, then waits initial × factor^n up to max, and goes fatal after max_failures', async () => {
    const project = await makeProject()
    project.writeManifest(service('flaky', 'exit-at-once.mjs', '    backoff: {initial: 10s, factor: 3, max: 60s, max_failures: 5}\n'))
    const core = await openCore(project)
    const [first] = await core.supervisor.start(['flaky'])
    expect(first).toMatchObject({name: 'flaky', ok: false, reason: 'exited with code 3 before it became healthy'})
    const delays: number[] = []
    for (;;) {
      await waitFor(() => ['backoff', 'fatal'].includes(stateOf(core, 'flaky')) && (stateOf(core, 'flaky') === 'fatal' || core.clock.pending().length > 0), 'flaky to wait or give up')
      if (stateOf(core, 'flaky') === 'fatal') break
      delays.push(core.clock.advanceToNext())
    }
    // Failure 1 restarts at once (no timer); failures 2 to 5 wait 10 s, 30 s, then 60 s
    // (the cap); the sixth, past max_failures, is fatal.
    expect(delays).toEqual([10_000, 30_000, 60_000, 60_000])
    expect(core.supervisor.status(['flaky'])[0]).toMatchObject({state: 'fatal', restarts: 5, pid: null})
    expect(core.path('flaky').at(-1)).toBe('backoff → fatal')
    // Fatal costs nothing: no timer is left.
    expect(core.clock.pending()).toEqual([])
  })

  it('schedules liveness every interval and forgets the failures in a row after reset_after', async () => {
    const project = await makeProject()
    project.writeManifest(service('steady', 'health-server.mjs', '    health: {interval: 7s}\n    backoff: {reset_after: 45s}\n'))
    const core = await openCore(project)
    expect((await core.supervisor.start(['steady']))[0]).toMatchObject({ok: true, state: 'running'})
    await waitFor(() => core.clock.pending().length === 2, 'the liveness and reset timers')
    expect(core.clock.pending()).toEqual([7_000, 45_000])
    core.clock.advance(7_000)
    // The probe is real; once it answers, the next one is due an interval after it began.
    await waitFor(() => core.clock.pending().length === 2 && core.clock.pending()[0] === 7_000, 'the next liveness probe scheduled')
    expect(core.clock.pending()).toEqual([7_000, 38_000])
    expect(stateOf(core, 'steady')).toBe('running')
  })

  it('goes unhealthy at the first failed probe and restarts at failure_threshold, counting one restart', async () => {
    const project = await makeProject()
    project.writeManifest(service('sick', 'health-server.mjs', '    health: {interval: 5s, failure_threshold: 2}\n'))
    const core = await openCore(project)
    const [started] = await core.supervisor.start(['sick'])
    process.kill(started!.pid!, 'SIGUSR1') // NOT_SERVING from now on
    await saysInLog(project, 'sick', 'HEALTH NOT_SERVING')
    await waitFor(() => core.clock.pending().length > 0, 'the first liveness timer')
    core.clock.advance(5_000)
    await waitFor(() => stateOf(core, 'sick') === 'unhealthy', 'sick unhealthy after one failed probe')
    await waitFor(() => core.clock.pending().length > 0, 'the second liveness timer')
    core.clock.advance(5_000)
    await waitFor(() => stateOf(core, 'sick') === 'running' && core.supervisor.status(['sick'])[0]!.pid !== started!.pid, 'sick running again with a new pid')
    expect(core.path('sick')).toEqual(['stopped → starting', 'starting → running', 'running → unhealthy', 'unhealthy → stopping', 'stopping → starting', 'starting → running'])
    expect(core.supervisor.status(['sick'])[0]!.restarts).toBe(1)
  })

  it('ends a start that an operator stop interrupts: the attempt fails, the service ends stopped', async () => {
    const project = await makeProject()
    project.writeManifest(service('slow', 'health-server.mjs', '    env: {READY_DELAY_MS: "3000"}\n'))
    const core = await openCore(project)
    const attempt = core.supervisor.start(['slow'])
    await waitFor(() => stateOf(core, 'slow') === 'starting' && core.supervisor.status(['slow'])[0]!.pid !== null, 'slow spawned')
    await core.supervisor.stop(['slow'])
    expect((await attempt)[0]).toMatchObject({ok: false, reason: 'stopped before it became healthy'})
    expect(core.path('slow')).toEqual(['stopped → starting', 'starting → stopping', 'stopping → stopped'])
  })

  it('leaves a service stopped when an operator stop comes during a liveness restart’s kill', async () => {
    const project = await makeProject()
    project.writeManifest(service('deaf', 'stubborn-server.mjs', '    health: {interval: 5s, failure_threshold: 1}\n'))
    const core = await openCore(project)
    const [started] = await core.supervisor.start(['deaf'])
    let stopped: Promise<unknown> | undefined
    core.supervisor.addTransitionListener((t) => {
      // Just as the liveness restart begins to kill it (a microtask later, as a request from
      // the socket would come): deterministic, unlike a CLI racing it.
      if (t.name === 'deaf' && t.to === 'stopping' && stopped === undefined) queueMicrotask(() => (stopped = core.supervisor.stop(['deaf'])))
    })
    process.kill(started!.pid!, 'SIGUSR1')
    await saysInLog(project, 'deaf', 'HEALTH NOT_SERVING')
    await waitFor(() => core.clock.pending().length > 0, 'the liveness timer')
    core.clock.advance(5_000)
    await waitFor(() => stopped !== undefined, 'the liveness restart to begin')
    await stopped
    expect(core.path('deaf')).toEqual(['stopped → starting', 'starting → running', 'running → stopping', 'stopping → stopped'])
    expect(core.supervisor.status(['deaf'])[0]).toMatchObject({state: 'stopped', pid: null})
  })

  it('says what a start, stop or restart touches before its first move: the chosen instances and, in order, what they depend on', async () => {
    const project = await makeProject()
    project.writeManifest(service('db', 'health-server.mjs') + service('api', 'health-server.mjs', '    instances: 2\n    depends_on: [db]\n'))
    const core = await openCore(project)
    const events: string[] = []
    core.supervisor.addTransitionListener((t) => events.push(`${t.name} → ${t.to}`))
    const plan = (verb: string) => (p: {instances: string[]; waitingFor: Record<string, string[]>}) => events.push(`${verb} plan ${p.instances.join(' ')} ${JSON.stringify(p.waitingFor)}`)

    await core.supervisor.start(['api_2'], plan('start'))
    expect(events[0]).toBe('start plan db api_2 {"db":[],"api_2":["db"]}')
    // Of the named service only the named instance starts; of what it depends on, all.
    expect(core.supervisor.status([]).map((row) => `${row.name} ${row.state}`)).toEqual(['db running', 'api stopped', 'api_2 running'])

    events.length = 0
    await core.supervisor.restart(['api'], plan('restart'))
    expect(events[0]).toBe('restart plan api api_2 {}')

    events.length = 0
    await core.supervisor.stop(['db'], plan('stop'))
    expect(events[0]).toBe('stop plan api api_2 db {}')
    expect(events.indexOf('db → stopping')).toBeGreaterThan(events.indexOf('api_2 → stopped'))
  })
})
