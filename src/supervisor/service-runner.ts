// One service instance as the supervisor drives it. The record (service-record.ts) holds
// its state, with moveTo the only writer; each phase of its life is a room of its own:
// launch.ts (start, prepare, spawn, readiness), liveness.ts, restart.ts (the policy
// applied), stop.ts, usage.ts (what status shows). Adoption of a process a previous
// daemon started is here, as a recorded move.
import type {ChildRecord} from '../registry/child-records.js'
import {watchAdoptedExit} from './exit-watch.js'
import {launchFingerprint, serviceArgv, type ServiceInstance} from '../manifest/instances.js'
import {prepare, start, type StartOptions} from './launch.js'
import {logPipeHeld, logPipeOfProcess, type LogTarget, type LogWriter} from './log-files.js'
import {probeLiveness} from './liveness.js'
import {findSpawnedLeader, isSameProcess, sampleUsage, startTimeToEpochMs} from './proc.js'
import type {InstanceMetrics, RestartReason} from './tally.js'
import {watchExit} from './restart.js'
import {ServiceRecord, type PrepareShared, type RunnerContext} from './service-record.js'
import {LIVE_STATES, isUp, type AttemptResult, type InstanceStatus, type ServiceState} from './states.js'
import {rollout, type RolloutOptions} from './rollout.js'
import type {RolloutResult, RolloutStep} from './states.js'
import {stop, type StopOptions} from './stop.js'
import {instanceStatus} from './usage.js'

export type {PrepareShared, RunnerContext} from './service-record.js'
export type {AttemptResult, InstanceStatus, Transition} from './states.js'
export {describeExit} from './service-record.js'

export class ServiceRunner {
  private readonly record: ServiceRecord

  constructor(instance: ServiceInstance, context: RunnerContext) {
    this.record = new ServiceRecord(instance, context)
  }

  get name(): string {
    return this.record.name
  }

  get instance(): ServiceInstance {
    return this.record.instance
  }

  get state(): ServiceState {
    return this.record.state
  }

  get port(): number | undefined {
    return this.record.port
  }

  /** Whether a start would have nothing to do. */
  get isUp(): boolean {
    return isUp(this.record.state)
  }

  get currentFingerprint(): string | undefined {
    return this.record.fingerprint
  }

  /** Takes over a process a previous daemon started, if it still runs as recorded. */
  adopt(recorded: ChildRecord): boolean {
    const r = this.record
    r.restarts = recorded.restarts
    r.registeredByQm = recorded.registeredByQm
    r.port = recorded.port ?? undefined
    r.fingerprint = recorded.fingerprint ?? undefined
    r.noHealthService = recorded.noHealthService === true
    // The previous daemon's probes learnt that this service has no health service: this
    // daemon's first Check on a new connection then has the Call beside it (probe.ts).
    if (r.noHealthService && r.port !== undefined) r.context.channels.expectNoHealthService(r.target(r.port))
    if (!LIVE_STATES.has(recorded.state as ServiceState)) return false
    const found = recorded.pid !== null && recorded.startTime !== null ? {pid: recorded.pid, startTime: recorded.startTime} : this.findUnrecorded(recorded)
    if (!found || !isSameProcess(found.pid, found.startTime)) return false
    if (recorded.pid === null) r.fingerprint = launchFingerprint(r.service, recorded.port!)
    const watch = new AbortController()
    const exited = watchAdoptedExit(found.pid, found.startTime, watch.signal)
    const startedAtMs = recorded.startedAtMs ?? startTimeToEpochMs(found.startTime, r.context.bootMs)
    // Its pipe and whether a log process still reads it are known only from /proc: a
    // rollout gives its second process the other pipe, and a restart takes a free one.
    const logPipe = logPipeOfProcess(found.pid, r.logFile) ?? ''
    // A log process never takes a pipe back once it has let go: /proc is read until then only.
    let released = false
    r.logPipeReleased.set(logPipe, () => (released ||= !logPipeHeld(r.logFile, logPipe)))
    r.process = {pid: found.pid, startTime: found.startTime, exited, adopted: true, startedAtMs, watch, logged: async () => undefined, logPipe}
    // Recorded as moves like any other, through the table's own edges.
    r.moveTo('starting', `adopting pid ${found.pid}, started by a previous daemon`)
    r.detail = `adopted from a previous daemon (pid ${found.pid})`
    r.moveTo('running', r.detail)
    watchExit(r, r.process)
    return true
  }

  /**
   * A daemon killed while it spawned (a spawn blocks until the child has exec'd, so that is
   * where a kill often lands) left a process it never recorded. It is found by what it was
   * started with: the service's arguments on the recorded port, its folder, a group of its
   * own, and a start no earlier than the recorded move to starting.
   */
  private findUnrecorded(recorded: ChildRecord): {pid: number; startTime: number} | undefined {
    if (recorded.state !== 'starting' || recorded.port === null) return undefined
    const r = this.record
    return findSpawnedLeader(serviceArgv(r.service, recorded.port).slice(1), r.service.cwd, recorded.stateSinceMs, r.context.bootMs)
  }

  /**
   * An adopted process's first probe, at once rather than a health.interval later: until it
   * answers, qm knows nothing of its health, and `qm start` must not report it as fine.
   * Liveness goes on from there.
   */
  async checkAdopted(): Promise<void> {
    if (this.record.state !== 'running') return
    await probeLiveness(this.record, this.record.scope.signal)
    // The daemon before may have died between a move and its row's write (a stop that had
    // marked the row inactive but not yet signalled): a process that answers gets its row back.
    if (this.record.state === 'running') await this.record.setActive(true)
  }

  /** Operator start. Resolves when the service is healthy or the attempt has failed. */
  start(cause = 'started by operator', options: StartOptions = {}): Promise<AttemptResult> {
    return start(this.record, cause, options)
  }

  /** What its log process writes: Supervisor.start spawns one for all of a layer ahead of their launches. */
  get logTarget(): LogTarget {
    return {path: this.record.logFile, settings: this.record.service.logs, pipe: this.record.freeLogPipe()}
  }

  /** A log process made ahead for its next launch reads this pipe from now on: no other launch may take it meanwhile. */
  holdLogPipe(writer: LogWriter): void {
    this.record.logPipeReleased.set(writer.pipe, writer.released)
  }

  prepare(shared: PrepareShared = {}): Promise<void> {
    return prepare(this.record, shared)
  }

  /** Operator stop: the row inactive, the drain, SIGTERM to the group, SIGKILL after stop_timeout, port confirmed closed. */
  stop(cause = 'stopped by operator', options: StopOptions = {}): Promise<void> {
    return stop(this.record, cause, options)
  }

  /** A new process on a spare port, gated, the row moved to it, the old one drained and stopped. */
  rollout(options: RolloutOptions, say: (step: RolloutStep, detail: string) => void): Promise<RolloutResult> {
    return rollout(this.record, options, say)
  }

  /**
   * The supervisor is going and leaves the process running for the next one to adopt: every
   * timer and probe of the current state ends, and its exit is no longer watched. The state
   * stays as it is, in memory and in the records.
   */
  release(): void {
    this.record.released = true
    this.record.scope.abort()
    this.record.process?.watch.abort()
  }

  /** After a manifest change: the new spec applies at the next (re)start. */
  replaceSpec(instance: ServiceInstance): void {
    this.record.instance = instance
  }

  status(): InstanceStatus {
    return instanceStatus(this.record)
  }

  /** A restart the operator (or a reload) asked for, counted for qm metrics. */
  countRestart(reason: RestartReason): void {
    this.record.tally.restarted(reason)
  }

  metrics(): InstanceMetrics {
    const r = this.record
    const usage = r.process ? sampleUsage(r.process.pid, r.clock.nowMs()) : undefined
    return {
      name: r.name,
      service: r.service.name,
      state: r.state,
      up: r.state === 'running' && r.lastProbe?.status === 'SERVING',
      version: LIVE_STATES.has(r.state) ? (r.lastProbe?.version ?? null) : null,
      expectedVersion: r.service.expectedVersion ?? null,
      restarts: Object.fromEntries(r.tally.restarts),
      probeFailures: Object.fromEntries(r.tally.probeFailures),
      probeLatency: Object.fromEntries(r.tally.probeLatency),
      cpuSeconds: usage?.cpuSeconds ?? null,
      residentBytes: usage?.rssBytes ?? null,
    }
  }
}
