// The supervisor core: one ServiceRunner per service instance, started in dependency
// order, stopped dependants first, restarted one at a time, and brought in line with an
// edited manifest. Knows nothing of sockets or terminals; the daemon and `qm up` drive it.
import {QmError} from '../errors.js'
import {ProbeChannels} from '../health/probe.js'
import {Hooks} from './hooks.js'
import {spawn} from 'node:child_process'
import {startLogWriters, type LogWriter} from './log-files.js'
import {ListenerSnapshots} from '../net/listener-snapshots.js'
import {readSocketTable} from '../net/socket-table.js'
import type {Manifest} from '../manifest/types.js'
import {ChildRecords, childRecordsPath} from '../registry/child-records.js'
import {openEndpointStoreOrLater} from '../registry/open.js'
import type {EndpointStore} from '../registry/store.js'
import {RegistryWrites, type RegistryBacklog, type UnwrittenChanges} from './registry-writes.js'
import {restartPlan, startPlan, stopPlan} from './dependency-order.js'
import {expandInstances, launchFingerprint, selectInstances, type ServiceInstance} from '../manifest/instances.js'
import {bootTimeMs} from './proc.js'
import {realClock, type Clock} from './clock.js'
import {openRecords} from './records-rebuild.js'
import type {RolloutOptions} from './rollout.js'
import {LIVE_STATES, type Plan, type ProbeEvent, type ReloadReport, type RolloutPhase, type RolloutResult, type RolloutStep, type StopResult} from './states.js'
import type {StopOptions} from './stop.js'
import type {InstanceMetrics} from './tally.js'
import {ServiceRunner, type AttemptResult, type PrepareShared, type InstanceStatus, type RunnerContext, type Transition} from './service-runner.js'

export interface SupervisorListeners {
  onTransition?: (transition: Transition) => void
  onProbe?: (probe: ProbeEvent) => void
  warn?: (message: string) => void
  /** Time for every timer of the state machine; the real one unless a test drives its own. */
  clock?: Clock
}

export {childRecordsPath}

export class Supervisor {
  private readonly runners = new Map<string, ServiceRunner>()
  private closing = false
  private readonly context: RunnerContext
  private readonly transitionListeners = new Set<(transition: Transition) => void>()
  private readonly probeListeners = new Set<(probe: ProbeEvent) => void>()

  private constructor(
    private manifest: Manifest,
    private readonly endpoints: EndpointStore,
    private readonly records: ChildRecords,
    private readonly channels: ProbeChannels,
    listeners: SupervisorListeners,
  ) {
    if (listeners.onTransition) this.transitionListeners.add(listeners.onTransition)
    if (listeners.onProbe) this.probeListeners.add(listeners.onProbe)
    const warn = listeners.warn ?? (() => undefined)
    const hooks = new Hooks((name) => this.runners.get(name)?.instance.service.hooks, (name) => this.runners.get(name)?.port, warn)
    this.transitionListeners.add((transition) => hooks.onTransition(transition))
    this.context = {
      stateDir: manifest.stateDir,
      registryHost: manifest.registry.host,
      portRange: manifest.portRange,
      endpoints,
      registryWrites: new RegistryWrites(endpoints, manifest.registry.host, warn),
      records,
      channels,
      listeners: new ListenerSnapshots(),
      onTransition: (transition) => {
        for (const listener of this.transitionListeners) listener(transition)
      },
      onProbe: (probe) => {
        for (const listener of this.probeListeners) listener(probe)
      },
      clock: listeners.clock ?? realClock,
      bootMs: bootTimeMs(),
      warn,
      closing: () => this.closing,
    }
    for (const instance of expandInstances(manifest.services)) this.runners.set(instance.name, new ServiceRunner(instance, this.context))
  }

  static async open(manifest: Manifest, listeners: SupervisorListeners = {}): Promise<Supervisor> {
    const endpoints = await openEndpointStoreOrLater(manifest.registry, listeners.warn ?? (() => undefined))
    let records: ChildRecords
    try {
      records = await openRecords(manifest, endpoints, listeners.warn ?? (() => undefined))
    } catch (error) {
      await endpoints.close()
      throw error
    }
    return new Supervisor(manifest, endpoints, records, new ProbeChannels(), listeners)
  }

  addTransitionListener(listener: (transition: Transition) => void): () => void {
    this.transitionListeners.add(listener)
    return () => this.transitionListeners.delete(listener)
  }

  addProbeListener(listener: (probe: ProbeEvent) => void): () => void {
    this.probeListeners.add(listener)
    return () => this.probeListeners.delete(listener)
  }

  /** Recorded state changes since `sinceMs` (wall clock), of the named instances (all when none), oldest first. */
  transitionsSince(sinceMs: number, names: readonly string[] = []): Transition[] {
    const chosen = new Set(this.select(names).map((instance) => instance.name))
    return this.records
      .transitionsSince(sinceMs)
      .filter((record) => chosen.has(record.name))
      .map((record) => ({
        name: record.name,
        from: record.from as Transition['from'],
        to: record.to as Transition['to'],
        cause: record.cause,
        atMs: record.atMs,
        service: this.runners.get(record.name)!.instance.service.name,
        ...(record.pid === null ? {} : {pid: record.pid}),
      }))
  }

  get manifestFile(): string {
    return this.manifest.file
  }

  /** After a daemon restart: takes over recorded processes that still run, and reports the rest. */
  /** Adopts every recorded process that still runs, and probes each once before it returns. */
  async adoptRecorded(): Promise<{adopted: string[]; gone: string[]}> {
    const adopted: ServiceRunner[] = []
    const gone: string[] = []
    for (const record of this.records.all()) {
      const runner = this.runners.get(record.name)
      if (!runner) continue
      if (runner.adopt(record)) adopted.push(runner)
      else if (record.pid !== null) gone.push(record.name)
    }
    await Promise.all(adopted.map((runner) => runner.checkAdopted()))
    return {adopted: adopted.map((runner) => runner.name), gone}
  }

  /** Starts the named services (all when none) and what they depend on, layer by layer. */
  async start(names: readonly string[] = [], onPlan?: (plan: Plan) => void): Promise<AttemptResult[]> {
    const wanted = this.select(names)
    const layers = startPlan(this.manifest.services, [...this.runners.values()], wanted)
    onPlan?.(planOf(layers.flat(), true))
    const results: AttemptResult[] = []
    const failed = new Set<string>()
    const certificateChecks = new Map<string, Promise<unknown>>()
    for (const layer of layers) {
      const attempts: Promise<AttemptResult>[] = []
      await this.launchLayer(layer, failed, attempts, certificateChecks)
      for (const result of await Promise.all(attempts)) {
        results.push(result)
        if (!result.ok) failed.add(this.runners.get(result.name)!.instance.service.name)
      }
    }
    const wantedNames = new Set(wanted.map((instance) => instance.name))
    return results.filter((result) => wantedNames.has(result.name) || !result.ok)
  }

  /** Prepares each runner of a layer, one after another, then launches them; their attempts go into `attempts`. */
  private async launchLayer(layer: readonly ServiceRunner[], failed: ReadonlySet<string>, attempts: Promise<AttemptResult>[], certificateChecks: Map<string, Promise<unknown>>): Promise<void> {
    // One read of the socket table for the whole layer: each read costs several ms.
    let shared: PrepareShared | undefined
    const ready: ServiceRunner[] = []
    const prepared = new Set<ServiceRunner>()
    // Ports are allocated one runner at a time, in manifest order, so NAME gets a lower
    // port than NAME_2; the slow part, waiting for health, then runs in parallel.
    for (const runner of layer) {
      if (this.closing) break
      const blocker = runner.instance.service.dependsOn.find((dependency) => failed.has(dependency))
      if (blocker) {
        attempts.push(Promise.resolve({name: runner.name, ok: false, state: runner.state, reason: `not started: ${blocker}, which it depends on, is not healthy`}))
        continue
      }
      try {
        shared ??= {sockets: readSocketTable(), certificateChecks}
        // A service with a process (up, or being stopped by a liveness restart) is checked by
        // its own start once that process is gone, if it still needs one: its port is taken
        // by that very process until then.
        if (!LIVE_STATES.has(runner.state)) {
          await runner.prepare(shared)
          prepared.add(runner)
        }
        ready.push(runner)
      } catch (error) {
        attempts.push(Promise.resolve(refusal(runner, error)))
      }
    }
    // Every log process before any service: a spawn blocks this process until the child has
    // exec'd, and once the first services are busy starting, a child waits its turn for a
    // core (tens of ms each on two cores with forty services starting). Log processes
    // spawned first meet an idle machine, and the services are all running sooner.
    const logWriters = openLogWriters([...prepared])
    // A few spawns per turn of the event loop. A spawn blocks this process until the child
    // has exec'd, and on two cores busy with forty starting services each child waits about
    // a scheduler round for that (50 to 120 ms). Spawned in one go, the forty blocked the
    // daemon for 2 to 5 s: no probe of the first services, no liveness probe, no status
    // answered, and then forty TLS handshakes at once, so a start returned some 100 ms
    // after its last service answered. Between groups the probes of the services spawned
    // already run, and the last ones are probed as soon as they listen. Not one per turn:
    // each fork write-protects the daemon's memory, and the probes' work between two forks
    // then faults its pages back one by one (7 000 more faults and 0.3 s more CPU in a
    // start of 40, which made the start itself 5 % slower).
    for (const [index, runner] of ready.entries()) {
      if (index > 0 && index % SPAWNS_PER_TURN === 0) await nextTurn()
      const logWriter = logWriters.get(runner)
      attempts.push(runner.start('started by operator', {prepared: prepared.has(runner), ...(logWriter ? {logWriter} : {})}))
    }
  }

  /** Stops the named services (all when none) and, first, what depends on them. */
  async stop(names: readonly string[] = [], onPlan?: (plan: Plan) => void, options: StopOptions = {}): Promise<StopResult[]> {
    const layers = stopPlan(this.manifest.services, [...this.runners.values()], this.select(names))
    onPlan?.(planOf(layers.flat(), false))
    for (const layer of layers) await Promise.all(layer.map((runner) => runner.stop('stopped by operator', options)))
    return layers.flat().map((runner) => ({name: runner.name, state: runner.state}))
  }

  /**
   * One instance at a time, so the others keep serving: each drains, stops and starts on
   * its own port. With `rollout`, a service with port: auto is rolled out instead (a new
   * process before the old one goes); a fixed-port one restarts as before.
   */
  async restart(names: readonly string[] = [], onPlan?: (plan: Plan) => void, options: StopOptions & {rollout?: boolean} = {}): Promise<AttemptResult[]> {
    const ordered = restartPlan(this.manifest.services, [...this.runners.values()], this.select(names))
    onPlan?.(planOf(ordered, false))
    const results: AttemptResult[] = []
    const stopOptions = options.drainMs === undefined ? {} : {drainMs: options.drainMs}
    for (const runner of ordered) {
      if (options.rollout) {
        const rolled = await runner.rollout({...stopOptions, allowDowntime: true}, () => undefined).catch((error: unknown) => refusal(runner, error))
        if ('way' in rolled && rolled.ok && rolled.way !== 'start') runner.countRestart('operator')
        results.push('way' in rolled ? rolledAttempt(runner, rolled) : rolled)
        continue
      }
      await runner.stop('restarted by operator', stopOptions)
      runner.countRestart('operator')
      results.push(await runner.start('restarted by operator').catch((error: unknown) => refusal(runner, error)))
    }
    return results
  }

  /**
   * qm rollout: each named instance (all when none) in manifest order, one at a time, so
   * that every other instance of a service serves meanwhile. The steps stream through onStep.
   */
  async rollout(names: readonly string[], options: RolloutOptions, onPlan?: (plan: Plan) => void, onStep?: (phase: RolloutPhase) => void): Promise<RolloutResult[]> {
    const chosen = this.select(names).map((instance) => this.runners.get(instance.name)!)
    onPlan?.(planOf(chosen, false))
    const results: RolloutResult[] = []
    for (const runner of chosen) {
      if (this.closing) break
      const say = (step: RolloutStep, detail: string) => onStep?.({name: runner.name, step, detail, atMs: this.context.clock.nowMs()})
      const rolled = await runner.rollout(options, say).catch((error: unknown) => {
          const refused = refusal(runner, error)
          say('refused', refused.reason ?? 'refused')
          return {name: runner.name, ok: false, way: 'none' as const, ...(refused.reason ? {reason: refused.reason} : {}), ...(refused.hint ? {hint: refused.hint} : {})}
        })
      if (rolled.ok && rolled.way !== 'start') runner.countRestart('operator')
      results.push(rolled)
    }
    return results
  }

  /** Every instance's counts and usage, for qm metrics. */
  metrics(): InstanceMetrics[] {
    return [...this.runners.values()].map((runner) => runner.metrics())
  }

  status(names: readonly string[] = []): InstanceStatus[] {
    return this.select(names).map((instance) => this.runners.get(instance.name)!.status())
  }

  /** is_active changes waiting for the registry to answer again. */
  registryBacklog(): RegistryBacklog {
    return this.context.registryWrites.backlog()
  }

  /**
   * Brings the running set in line with an edited manifest: removed services stop (and
   * lose the registry row qm gave them), changed ones restart (or, with keepChanged, keep
   * running with the new settings waiting for a rollout), new ones start only when
   * startNew is set, untouched ones keep their process.
   */
  async reload(manifest: Manifest, options: {startNew: boolean; keepChanged?: boolean}): Promise<ReloadReport> {
    const report: ReloadReport = {added: [], removed: [], restarted: [], unchanged: []}
    const next = new Map(expandInstances(manifest.services).map((instance) => [instance.name, instance]))
    for (const [name, runner] of this.runners) {
      if (next.has(name)) continue
      await runner.stop('removed from the manifest')
      await this.forget(runner)
      this.runners.delete(name)
      report.removed.push(name)
    }
    this.manifest = manifest
    const toStart: string[] = []
    for (const [name, instance] of next) {
      const runner = this.runners.get(name)
      if (!runner) {
        this.runners.set(name, new ServiceRunner(instance, this.context))
        report.added.push(name)
        if (options.startNew) toStart.push(name)
        continue
      }
      const live = runner.isUp
      const changed = runner.port !== undefined && runner.currentFingerprint !== undefined && launchFingerprint(instance.service, runner.port) !== runner.currentFingerprint
      runner.replaceSpec(instance)
      if (live && changed && options.keepChanged) {
        ;(report.kept ??= []).push(name)
      } else if (live && changed) {
        await runner.stop('the manifest changed')
        runner.countRestart('reload')
        toStart.push(name)
        report.restarted.push(name)
      } else {
        report.unchanged.push(name)
      }
    }
    if (toStart.length > 0) await this.start(toStart)
    return report
  }

  private async forget(runner: ServiceRunner): Promise<void> {
    const record = this.records.get(runner.name)
    if (record?.registeredByQm) {
      await this.endpoints.unregister(runner.name, this.manifest.registry.host).catch((error: unknown) => {
        this.context.warn(`${runner.name}: could not remove its registry row: ${(error as Error).message}`)
      })
    }
    this.context.registryWrites.forget(runner.name)
    this.records.remove(runner.name)
  }

  /** Returns the is_active changes that could not be written (the registry out of reach). */
  async close(options: {stopServices: boolean; drainMs?: number}): Promise<UnwrittenChanges> {
    // First, so that a start or restart still under way launches nothing from here on.
    this.closing = true
    if (options.stopServices) await this.stop([], undefined, options.drainMs === undefined ? {} : {drainMs: options.drainMs})
    // Services left running (--keep-services) lose their supervisor here: their timers and
    // any probe in flight end before the channels and the records close under them.
    for (const runner of this.runners.values()) runner.release()
    this.channels.close()
    this.records.close()
    const unwritten = await this.context.registryWrites.close()
    await this.endpoints.close()
    return unwritten
  }

  private select(names: readonly string[]): ServiceInstance[] {
    return selectInstances(this.manifest, [...this.runners.values()].map((runner) => runner.instance), names)
  }

  private instancesOf(serviceName: string): ServiceRunner[] {
    return [...this.runners.values()].filter((runner) => runner.instance.service.name === serviceName)
  }
}

// Perl's select() takes descriptors below 1024 only; a process with this many pipes stays
// far below, whatever the daemon holds open.
const LOG_PIPES_PER_PROCESS = 64

const SPAWNS_PER_TURN = 4

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** One log process for the runners, spawned now. */
function openLogWriters(runners: readonly ServiceRunner[]): Map<ServiceRunner, LogWriter> {
  const writers = new Map<ServiceRunner, LogWriter>()
  // A pipe or log process that cannot be made here is not an error of the start: each
  // launch without one makes its own, and a failure there is reported as the service's.
  for (let first = 0; first < runners.length; first += LOG_PIPES_PER_PROCESS) {
    const some = runners.slice(first, first + LOG_PIPES_PER_PROCESS)
    try {
      startLogWriters(some.map((runner) => runner.logTarget), spawn).forEach((writer, index) => {
        writers.set(some[index]!, writer)
        some[index]!.holdLogPipe(writer)
      })
    } catch {
      continue
    }
  }
  return writers
}

function refusal(runner: ServiceRunner, error: unknown): AttemptResult {
  if (!(error instanceof QmError)) throw error
  return {name: runner.name, ok: false, state: runner.state, reason: error.message, ...(error.hint ? {hint: error.hint} : {})}
}

/** A rollout inside qm restart --rollout, told as the restart's own result. */
function rolledAttempt(runner: ServiceRunner, rolled: RolloutResult): AttemptResult {
  const port = rolled.toPort ?? runner.port
  return {
    name: rolled.name,
    ok: rolled.ok,
    state: runner.state,
    ...(rolled.pid === undefined ? {} : {pid: rolled.pid}),
    ...(port === undefined ? {} : {port}),
    ...(rolled.healthyAfterMs === undefined ? {} : {healthyAfterMs: rolled.healthyAfterMs}),
    ...(rolled.reason ? {reason: rolled.reason} : {}),
    ...(rolled.hint ? {hint: rolled.hint} : {}),
    ...(rolled.logTail ? {logTail: rolled.logTail} : {}),
  }
}

/** The instances an operation will touch, in order, and (for a start) what each waits for. */
function planOf(runners: readonly ServiceRunner[], withDependencies: boolean): Plan {
  return {
    instances: runners.map((runner) => runner.name),
    waitingFor: withDependencies ? Object.fromEntries(runners.map((runner) => [runner.name, [...runner.instance.service.dependsOn]])) : {},
  }
}
