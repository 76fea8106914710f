// One service instance's record: its state and everything the phases of its life share
// (process, port, counts, the last probe). moveTo is the only writer of the state: it
// checks the table in states.ts, ends whatever the old state had running (its scope),
// records the move in SQLite with pid and process start time, and tells the listeners.
import type {ProbeChannels} from '../health/probe.js'
import type {ProbeOptions, ProbeResult, ProbeTarget} from '../grpc/types.js'
import type {ServiceSpec} from '../manifest/types.js'
import type {ListenerSnapshots} from '../net/listener-snapshots.js'
import type {TcpSocket} from '../net/socket-table.js'
import type {ChildRecord, ChildRecords} from '../registry/child-records.js'
import type {EndpointStore} from '../registry/store.js'
import type {Clock} from './clock.js'
import type {ServiceInstance} from '../manifest/instances.js'
import {LOG_PIPES, logPath} from './log-files.js'
import {ServiceTally} from './tally.js'
import type {UsageSample} from './proc.js'
import type {RegistryWrites} from './registry-writes.js'
import type {ExitInfo} from './spawn.js'
import {canMove, IllegalTransition, type AttemptResult, type ProbeEvent, type ServiceState, type Transition} from './states.js'

export interface RunnerContext {
  stateDir: string
  registryHost: string
  portRange: readonly [number, number]
  endpoints: EndpointStore
  /** is_active writes, kept and retried while the registry is out of reach. */
  registryWrites: RegistryWrites
  records: ChildRecords
  channels: ProbeChannels
  listeners: ListenerSnapshots
  onTransition: (transition: Transition) => void
  onProbe: (probe: ProbeEvent) => void
  clock: Clock
  bootMs: number
  /** Where the daemon reports what it could not do (a registry write that failed). */
  warn: (message: string) => void
  /** True once the supervisor is shutting down: nothing new is launched after that. */
  closing: () => boolean
}

/** What the services of one start share: one socket table read, one check per certificate set. */
export interface PrepareShared {
  sockets?: readonly TcpSocket[]
  certificateChecks?: Map<string, Promise<unknown>>
}

export interface RunningProcess {
  pid: number
  startTime: number
  exited: Promise<ExitInfo>
  exitInfo?: ExitInfo
  adopted: boolean
  startedAtMs: number
  /** Ends the exit watch of an adopted process. */
  watch: AbortController
  /** Resolves once its log process has written all it printed; at once for an adopted one. */
  logged: (waitMs?: number) => Promise<void>
  /** Which of the service's log pipes it writes to (for an adopted one, as /proc shows it). */
  logPipe?: string
}

export class ServiceRecord {
  private currentState: ServiceState = 'stopped'
  /** Ends every timer and probe of the current state when the state changes. */
  scope = new AbortController()
  process: RunningProcess | undefined
  port: number | undefined
  restarts = 0
  failuresInRow = 0
  probeFailures = 0
  lastExit: ExitInfo | undefined
  lastProbe: ProbeResult | undefined
  detail: string | undefined
  stateSinceMs: number
  registeredByQm = false
  /** Its last SERVING answer to an `auto` probe came from Call after an UNIMPLEMENTED Check; kept across daemons. */
  noHealthService = false
  fingerprint: string | undefined
  usage: UsageSample | undefined
  attemptWaiters: ((result: AttemptResult) => void)[] = []
  stopping: Promise<void> | undefined
  /** While draining: when the drain ends at the latest, on the wall clock. */
  drainEndsAtMs: number | undefined
  /** The kill of a liveness restart, which an operator stop waits for. */
  killing: Promise<void> | undefined
  /** When the current start began, on the monotonic clock, for "healthy in N ms". */
  launchStartedMono = 0
  /** How long the last launch took to its first SERVING answer. */
  healthyAfterMs: number | undefined
  /** Whether the daemon's log has been told that qm's own credentials fail this service's probes. */
  credentialWarning = false
  /** Restarts, probe failures and probe latency since the daemon started, for qm metrics. */
  readonly tally = new ServiceTally()
  /** A rollout is moving the row between two processes: the old one's exit is the rollout's to handle. */
  handingOver = false
  /** The supervisor has let go of it (shutdown leaving the services running): nothing more is recorded. */
  released = false
  /** For each of its log pipes ('' and 'next') this daemon gave a process: whether that one's log process has let go of it. */
  readonly logPipeReleased = new Map<string, () => boolean>()

  constructor(
    public instance: ServiceInstance,
    readonly context: RunnerContext,
  ) {
    this.stateSinceMs = context.clock.nowMs()
  }

  get state(): ServiceState {
    return this.currentState
  }

  get name(): string {
    return this.instance.name
  }

  get service(): ServiceSpec {
    return this.instance.service
  }

  get logFile(): string {
    return logPath(this.context.stateDir, this.name)
  }

  get clock(): Clock {
    return this.context.clock
  }

  /** `endedPid`: the process the move is about when it is already gone (an exit). */
  moveTo(to: ServiceState, cause: string, endedPid?: number): void {
    const from = this.currentState
    if (!canMove(from, to)) throw new IllegalTransition(this.name, from, to)
    this.scope.abort()
    this.scope = new AbortController()
    this.currentState = to
    this.stateSinceMs = this.clock.nowMs()
    if (to === 'starting') this.launchStartedMono = this.clock.monotonicMs()
    const pid = this.process?.pid ?? endedPid
    this.context.records.saveMove(this.snapshot(), {atMs: this.stateSinceMs, name: this.name, from, to, cause, pid: pid ?? null, startTime: this.process?.startTime ?? null})
    this.context.onTransition({name: this.name, from, to, cause, atMs: this.stateSinceMs, service: this.service.name, ...(pid === undefined ? {} : {pid})})
  }

  /**
   * The pipe for its next process. The log process of the process before sees the end of
   * its pipe only once it runs again after that process's death; on a busy host that can be
   * after the next process has opened the same pipe, and it would then read on, beside the
   * new one's log process, each taking some of the lines. Until it has let go, the next
   * process writes into the service's other pipe, as a rollout's second process does.
   * With both still read (a child the service left behind holds one open, say), the first:
   * lines split between two readers rather than a service that cannot start.
   */
  freeLogPipe(): string {
    return LOG_PIPES.find((pipe) => this.logPipeReleased.get(pipe)?.() !== false) ?? ''
  }

  save(): void {
    this.context.records.save(this.snapshot())
  }

  private snapshot(): ChildRecord {
    return {
      name: this.name,
      service: this.service.name,
      pid: this.process?.pid ?? null,
      startTime: this.process?.startTime ?? null,
      port: this.port ?? null,
      state: this.currentState,
      restarts: this.restarts,
      lastExitCode: this.lastExit?.code ?? null,
      lastExitSignal: this.lastExit?.signal ?? null,
      stateSinceMs: this.stateSinceMs,
      startedAtMs: this.process?.startedAtMs ?? null,
      fingerprint: this.fingerprint ?? null,
      registeredByQm: this.registeredByQm,
      detail: this.detail ?? null,
      noHealthService: this.noHealthService,
    }
  }

  /** Keeps a probe's answer as the last one, and tells the listeners. */
  probed(probe: ProbeResult): void {
    this.lastProbe = probe
    this.learnHealthService(probe)
    this.tally.probed(probe)
    const {status, latencyMs, method, reason, version} = probe
    this.context.onProbe({name: this.name, service: this.service.name, atMs: this.clock.nowMs(), ...(this.process ? {pid: this.process.pid} : {}), status, latencyMs, method, ...(reason ? {reason} : {}), ...(version ? {version} : {})})
  }

  /**
   * Whether an `auto` probe's SERVING came from the Call fallback, kept in the records for the
   * next daemon's probes (probe.ts). It rarely changes, so a change is saved at once.
   */
  learnHealthService(probe: ProbeResult | undefined): void {
    if (probe?.status !== 'SERVING' || this.service.health.type !== 'auto') return
    const noHealthService = probe.method === 'call'
    if (noHealthService === this.noHealthService) return
    this.noHealthService = noHealthService
    if (!this.released) this.save()
  }

  setActive(active: boolean): Promise<void> {
    return this.context.registryWrites.setActive(this.name, active)
  }

  settleAttempt(result: AttemptResult): void {
    const waiters = this.attemptWaiters
    this.attemptWaiters = []
    for (const resolve of waiters) resolve(result)
  }

  result(ok: boolean): AttemptResult {
    return {
      name: this.name,
      ok,
      state: this.currentState,
      ...(this.lastProbe ? {probe: this.lastProbe} : {}),
      ...(this.process ? {pid: this.process.pid} : {}),
      ...(this.port === undefined ? {} : {port: this.port}),
      ...(ok && this.healthyAfterMs !== undefined ? {healthyAfterMs: this.healthyAfterMs} : {}),
    }
  }

  target(port: number): ProbeTarget {
    return {host: '127.0.0.1', port, certs: this.service.certs, serverName: this.service.health.serverName}
  }

  probeOptions(): Pick<ProbeOptions, 'type' | 'timeoutMs' | 'versionKeys'> {
    return {type: this.service.health.type, timeoutMs: this.service.health.timeoutMs, versionKeys: this.service.health.versionKeys}
  }
}

export function describeExit(exit: ExitInfo): string {
  if (exit.signal) return `killed by ${exit.signal}`
  if (exit.code === null) return 'ended (exit status unknown: it was adopted)'
  return `exited with code ${exit.code}`
}
