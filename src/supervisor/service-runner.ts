// One service instance's life: spawn, readiness, liveness, exit, restart with backoff,
// stop. Every state change goes through moveTo, which checks the table in states.ts,
// ends whatever the old state had running (its AbortController), records the move in
// SQLite and tells the listeners.
import {assertCertificatesUsable} from '../certs/check.js'
import type {ProbeChannels} from '../health/probe.js'
import type {ProbeResult, ProbeTarget} from '../health/types.js'
import {waitUntilServing} from '../health/wait.js'
import type {ServiceSpec} from '../manifest/types.js'
import type {ListenerSnapshots} from '../net/listener-snapshots.js'
import type {TcpSocket} from '../net/socket-table.js'
import type {ChildRecord, ChildRecords} from '../registry/child-records.js'
import {localPortUsage} from '../registry/port-usage.js'
import type {EndpointStore} from '../registry/store.js'
import {watchAdoptedExit} from './exit-watch.js'
import {launchFingerprint, serviceArgv, type ServiceInstance} from './instances.js'
import {logPath, serviceLogTail} from './log-files.js'
import {assertPortFree, bindFailure, resolveExecutable, SpawnRefused} from './preflight.js'
import {cpuPercent, isSameProcess, sampleUsage, startTimeToEpochMs, type UsageSample} from './proc.js'
import {stopGroup, waitUntil} from './process-group.js'
import {isRegistryOutage, type RegistryWrites} from './registry-writes.js'
import {nextRestart, policyRestarts} from './restart-policy.js'
import {spawnProcess, type ExitInfo} from './spawn.js'
import {canMove, IllegalTransition, LIVE_STATES, type ServiceState} from './states.js'

export interface Transition {
  name: string
  from: ServiceState
  to: ServiceState
  cause: string
  atMs: number
}

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
  /** Wall clock, for display and records; deadlines use performance.now(). */
  nowMs: () => number
  bootMs: number
  /** Where the daemon reports what it could not do (a registry write that failed). */
  warn: (message: string) => void
  /** True once the supervisor is shutting down: nothing new is launched after that. */
  closing: () => boolean
}

export interface AttemptResult {
  name: string
  ok: boolean
  state: ServiceState
  /** Why it did not become healthy. */
  reason?: string
  hint?: string
  /** The service's last log lines, on failure. */
  logTail?: string[]
  probe?: ProbeResult
  pid?: number
  port?: number
  /** From spawn to the first SERVING answer, for a start that launched a process. */
  healthyAfterMs?: number
}

export interface InstanceStatus {
  name: string
  service: string
  state: ServiceState
  pid: number | null
  port: number | null
  health: {status: ProbeResult['status']; latencyMs: number; reason?: string; method: ProbeResult['method']; cause?: ProbeResult['cause']} | null
  version: string | null
  expectedVersion: string | null
  uptimeMs: number | null
  restarts: number
  cpuPercent: number | null
  memoryBytes: number | null
  lastExit: ExitInfo | null
  detail: string | null
  /** The service's last log line, for one that is not running because it failed. */
  lastLogLine: string | null
}

/** What the services of one start share: one socket table read, one check per certificate set. */
export interface PrepareShared {
  sockets?: readonly TcpSocket[]
  certificateChecks?: Map<string, Promise<unknown>>
}

interface RunningProcess {
  pid: number
  startTime: number
  exited: Promise<ExitInfo>
  exitInfo?: ExitInfo
  adopted: boolean
  startedAtMs: number
  /** Ends the exit watch of an adopted process. */
  watch: AbortController
  /** Resolves once its log process has written all it printed; at once for an adopted one. */
  logged: () => Promise<void>
}

const FAILED_START_LOG_LINES = 20
// A process that liveness has found dead gets this long after SIGTERM, not the whole
// stop_timeout: it failed failure_threshold probes in a row, and a graceful stop is for
// processes that can still finish their work.
const LIVENESS_KILL_MS = 1000

export class ServiceRunner {
  state: ServiceState = 'stopped'
  private scope = new AbortController()
  private process: RunningProcess | undefined
  port: number | undefined
  private restarts = 0
  private failuresInRow = 0
  private probeFailures = 0
  private lastExit: ExitInfo | undefined
  private lastProbe: ProbeResult | undefined
  private detail: string | undefined
  private stateSinceMs: number
  private registeredByQm = false
  private fingerprint: string | undefined
  private usage: UsageSample | undefined
  private attemptWaiters: ((result: AttemptResult) => void)[] = []
  private stopping: Promise<void> | undefined
  /** The kill of a liveness restart, which an operator stop waits for. */
  private killing: Promise<void> | undefined
  /** When the current start began, on the monotonic clock, for "healthy in N ms". */
  private launchStartedMono = 0
  /** How long the last launch took to its first SERVING answer. */
  private healthyAfterMs: number | undefined
  /** Whether the daemon's log has been told that qm's own credentials fail this service's probes. */
  private credentialWarning = false

  constructor(
    public instance: ServiceInstance,
    private readonly context: RunnerContext,
  ) {
    this.stateSinceMs = context.nowMs()
  }

  get name(): string {
    return this.instance.name
  }

  private get service(): ServiceSpec {
    return this.instance.service
  }

  get logFile(): string {
    return logPath(this.context.stateDir, this.name)
  }

  /** Whether a start would have nothing to do. */
  get isUp(): boolean {
    return this.state === 'running' || this.state === 'unhealthy' || this.state === 'starting'
  }

  get currentFingerprint(): string | undefined {
    return this.fingerprint
  }

  /** Takes over a process a previous daemon started, if it still runs as recorded. */
  adopt(record: ChildRecord): boolean {
    this.restarts = record.restarts
    this.registeredByQm = record.registeredByQm
    this.port = record.port ?? undefined
    this.fingerprint = record.fingerprint ?? undefined
    if (record.pid === null || record.startTime === null || !LIVE_STATES.has(record.state as ServiceState)) return false
    const watch = new AbortController()
    const alive = startTimeToEpochMs(record.startTime, this.context.bootMs)
    const exited = watchAdoptedExit(record.pid, record.startTime, watch.signal)
    this.process = {pid: record.pid, startTime: record.startTime, exited, adopted: true, startedAtMs: record.startedAtMs ?? alive, watch, logged: async () => undefined}
    if (!isSameProcess(record.pid, record.startTime)) {
      watch.abort()
      this.process = undefined
      return false
    }
    this.watchExit(this.process)
    // Construction, not a transition: the process was already running under the old daemon.
    this.state = 'running'
    this.detail = `adopted from a previous daemon (pid ${record.pid})`
    this.save()
    return true
  }

  /**
   * An adopted process's first probe, at once rather than a health.interval later: until it
   * answers, qm knows nothing of its health, and `qm start` must not report it as fine.
   * Liveness goes on from there.
   */
  async checkAdopted(): Promise<void> {
    if (this.state === 'running') await this.probeLiveness(this.scope.signal)
  }

  /** Operator start. Resolves when the service is healthy or the attempt has failed. */
  async start(cause = 'started by operator', options: {prepared?: boolean} = {}): Promise<AttemptResult> {
    if (this.state === 'stopping') await (this.stopping ?? this.killing)
    if (this.state === 'running' || this.state === 'unhealthy') return this.result(true)
    if (this.state === 'starting') return new Promise((resolve) => this.attemptWaiters.push(resolve))
    if (!options.prepared) await this.prepare()
    const attempt = new Promise<AttemptResult>((resolve) => this.attemptWaiters.push(resolve))
    this.failuresInRow = 0
    void this.launch(cause)
    return attempt
  }

  /**
   * Checks that can refuse a start before anything changes: folder, executable, port.
   * Registers the port when the service has none yet, and undoes that if a later check fails.
   */
  async prepare(shared: PrepareShared = {}): Promise<void> {
    const {service} = this
    const host = this.context.registryHost
    const {sockets} = shared
    resolveExecutable(this.name, service, process.env)
    // Services of one start mostly share one certificate set: it is checked once.
    const certificates = shared.certificateChecks?.get(service.certs.dir) ?? assertCertificatesUsable(service.certs, host)
    shared.certificateChecks?.set(service.certs.dir, certificates)
    await certificates.catch((error: unknown) => {
      throw new SpawnRefused(this.name, (error as Error).message, 'qm certs check shows every finding; qm certs init makes a development set', 'CERTS')
    })
    const existing = await this.context.endpoints.find(this.name, host).catch((error: unknown) => {
      // During a registry outage a service that had a port keeps it: its row is still there,
      // only out of reach, and a restart must not wait for the database.
      if (this.port === undefined || !isRegistryOutage(error)) throw error
      this.context.warn(`${this.name}: keeps port ${this.port} while the registry is out of reach: ${(error as Error).message}`)
      return {port: this.port}
    })
    const portChecks = {range: this.context.portRange, fixed: service.port !== 'auto', ...(sockets ? {sockets} : {})}
    // A fixed port is checked before it is registered, so the refusal names the holder and
    // what to do for a start (the registry's own refusal speaks of qm register's --port).
    if (!existing && service.port !== 'auto') assertPortFree(this.name, service.port, {...portChecks, registered: false})
    let port: number
    let registeredNow = false
    if (existing) {
      if (service.port !== 'auto' && existing.port !== service.port) {
        throw new SpawnRefused(this.name, `the manifest gives port ${service.port} but the registry has port ${existing.port}`, `run "qm unregister ${this.name}" to let the manifest's port apply`, 'PORT_MISMATCH')
      }
      port = existing.port
    } else {
      const outcome = await this.context.endpoints.register({
        name: this.name,
        host,
        ...(service.port === 'auto' ? {} : {port: service.port}),
        active: false,
        range: this.context.portRange,
        portInUse: localPortUsage(host, sockets),
      })
      port = outcome.endpoint.port
      registeredNow = true
    }
    try {
      assertPortFree(this.name, port, {...portChecks, registered: !registeredNow})
    } catch (error) {
      if (registeredNow) await this.context.endpoints.unregister(this.name, host)
      throw error
    }
    if (registeredNow) this.registeredByQm = true
    this.port = port
  }

  private async launch(cause: string): Promise<void> {
    if (this.context.closing()) {
      this.settleAttempt({...this.result(false), reason: 'not started: qm is shutting down'})
      return
    }
    this.moveTo('starting', cause)
    // Health belongs to one process: the last probe of the one before says nothing of this one.
    this.lastProbe = undefined
    this.healthyAfterMs = undefined
    this.credentialWarning = false
    const scope = this.scope.signal
    const port = this.port!
    let spawned
    try {
      // The port was checked when the operator started the service (prepare). A restart does
      // not read the socket table again: that costs milliseconds of a respawn, and a
      // service that cannot bind exits, after which bindFailure names what holds the port.
      const executable = resolveExecutable(this.name, this.service, process.env)
      const argv = serviceArgv(this.service, port)
      spawned = await spawnProcess({executable, args: argv.slice(1), cwd: this.service.cwd, env: this.service.env, logFile: this.logFile, logs: this.service.logs})
    } catch (error) {
      this.failedStart((error as Error).message, error instanceof SpawnRefused ? error.hint : undefined)
      return
    }
    if (scope.aborted) {
      // Stopped while spawning: the stop found no process, so end this one here.
      await stopGroup(spawned.pid, this.service.stopTimeoutMs)
      return
    }
    const running: RunningProcess = {...spawned, adopted: false, startedAtMs: this.context.nowMs(), watch: new AbortController()}
    this.process = running
    this.fingerprint = launchFingerprint(this.service, port)
    this.save()
    this.watchExit(running)

    const waitScope = new AbortController()
    const signal = AbortSignal.any([scope, waitScope.signal])
    const ready = waitUntilServing(this.target(port), {...this.probeOptions(), startTimeoutMs: this.service.health.startTimeoutMs, channels: this.context.channels, signal})
      .then((probe) => ({probe}))
      .catch((error: unknown) => ({aborted: error}))
    const exit = running.exited.then((exitInfo) => ({exitInfo}))
    const outcome = await Promise.race([ready, exit])
    waitScope.abort()
    if (scope.aborted) return // an operator stop took over
    if ('exitInfo' in outcome || running.exitInfo) {
      const info = running.exitInfo ?? (outcome as {exitInfo: ExitInfo}).exitInfo
      this.lastExit = info
      this.process = undefined
      // Its last lines may still be in the pipe to its log process.
      await running.logged()
      if (scope.aborted) return
      const held = bindFailure(port, serviceLogTail(this.logFile, FAILED_START_LOG_LINES), this.context.portRange)
      this.failedStart(`${describeExit(info)} before it became healthy${held ? `; port ${port} is held: ${held.what}` : ''}`, held?.fix)
      return
    }
    // Not healthy in time, or the probe itself could not run (unreadable client certificates):
    // either way the process is killed and the start counts as failed.
    const probe = 'probe' in outcome ? outcome.probe : undefined
    if (probe) this.lastProbe = probe
    if (probe?.status !== 'SERVING') {
      await stopGroup(running.pid, Math.min(this.service.stopTimeoutMs, 2000))
      await running.exited
      if (scope.aborted) return // an operator stop took over while the process was killed
      if (this.process === running) this.process = undefined
      const why = probe
        ? `not healthy within start_timeout ${this.service.health.startTimeoutMs} ms: ${probe.status}${probe.reason ? `, ${probe.reason}` : ''}`
        : `the health probe could not run: ${((outcome as {aborted: unknown}).aborted as Error)?.message ?? 'unknown error'}`
      this.failedStart(why)
      return
    }
    this.probeFailures = 0
    this.detail = undefined
    this.healthyAfterMs = Math.round(performance.now() - this.launchStartedMono)
    this.moveTo('running', `healthy in ${this.healthyAfterMs} ms via ${probe.method === 'grpc' ? 'grpc.health.v1' : probe.method === 'call' ? 'Call' : 'tcp'}`)
    // Liveness starts now, not after the registry write, which may wait on another writer's lock.
    this.scheduleStableReset(this.scope.signal)
    await this.setActive(true)
    this.settleAttempt(this.result(true))
  }

  private failedStart(reason: string, hint?: string): void {
    this.detail = reason
    this.failuresInRow++
    this.settleAttempt({...this.result(false), reason, ...(hint ? {hint} : {}), logTail: serviceLogTail(this.logFile, FAILED_START_LOG_LINES)})
    if (this.service.restart === 'never') {
      this.moveTo('backoff', reason)
      this.moveTo('fatal', 'restart is never: not tried again')
      return
    }
    this.retry(reason)
  }

  /** After a failure (counted already): restart at once, later, or give up as fatal. */
  private retry(reason: string): void {
    const decision = nextRestart(this.failuresInRow, this.service.backoff)
    const again = () => {
      this.restarts++
      void this.launch(`restart ${this.restarts} after ${this.failuresInRow} failure(s) in a row`)
    }
    if (!decision.restart) {
      if (this.state === 'starting') this.moveTo('backoff', reason)
      this.moveTo('fatal', `${this.failuresInRow} failures in a row; start it again with qm start ${this.name}`)
      void this.setActive(false)
      return
    }
    // exited → starting is a move of its own; a failed start passes through backoff.
    if (decision.delayMs === 0 && this.state === 'exited') {
      again()
      return
    }
    if (this.state !== 'backoff') this.moveTo('backoff', reason)
    if (decision.delayMs === 0) {
      again()
      return
    }
    afterDelay(this.scope.signal, decision.delayMs, again)
  }

  private watchExit(running: RunningProcess): void {
    void running.exited.then((exitInfo) => {
      running.exitInfo = exitInfo
      running.watch.abort()
      if (this.process !== running) return
      // While starting the readiness race sees the exit; while stopping, the stop does.
      if (this.state === 'running' || this.state === 'unhealthy') this.onExit(exitInfo)
    })
  }

  private onExit(exitInfo: ExitInfo): void {
    this.lastExit = exitInfo
    this.process = undefined
    this.moveTo('exited', describeExit(exitInfo))
    void this.setActive(false)
    if (!policyRestarts(this.service.restart, exitInfo.code)) {
      this.save()
      return
    }
    this.failuresInRow++
    this.retry(describeExit(exitInfo))
  }

  /** The next liveness probe, health.interval after the start of the last one (as Kubernetes's periodSeconds). */
  private scheduleLiveness(signal: AbortSignal, lastStartedMono?: number): void {
    const delay = lastStartedMono === undefined ? this.service.health.intervalMs : Math.max(0, lastStartedMono + this.service.health.intervalMs - performance.now())
    afterDelay(signal, delay, () => void this.probeLiveness(signal))
  }

  private scheduleStableReset(signal: AbortSignal, lastProbeStartedMono?: number): void {
    this.scheduleLiveness(signal, lastProbeStartedMono)
    afterDelay(signal, this.service.backoff.resetAfterMs, () => {
      this.failuresInRow = 0
    })
  }

  private async probeLiveness(signal: AbortSignal): Promise<void> {
    this.context.registryWrites.retrySoon()
    if (signal.aborted || this.port === undefined) return
    const startedMono = performance.now()
    let probe: ProbeResult
    try {
      probe = await this.context.channels.probe(this.target(this.port), {...this.probeOptions(), signal})
    } catch (error) {
      if (signal.aborted) return // the state changed while the probe ran
      // The probe could not run at all (client certificates gone or unreadable): qm's side.
      probe = {status: 'TLS_ERROR', latencyMs: 0, method: 'grpc', reason: `the probe could not run: ${(error as Error).message}`, cause: 'qm-credentials'}
    }
    if (signal.aborted) return
    this.lastProbe = probe
    if (probe.cause === 'qm-credentials') {
      this.credentialsFailed(probe, signal, startedMono)
      return
    }
    if (probe.status === 'SERVING') {
      this.credentialWarning = false
      this.probeFailures = 0
      if (this.state === 'unhealthy') {
        this.moveTo('running', `probe passed again (${probe.latencyMs} ms)`)
        this.scheduleStableReset(this.scope.signal, startedMono)
      } else {
        this.scheduleLiveness(signal, startedMono)
      }
      return
    }
    this.probeFailures++
    const why = `${probe.status}${probe.reason ? `: ${probe.reason}` : ''}`
    if (this.probeFailures >= this.service.health.failureThreshold) {
      this.failuresInRow++
      void this.restartAfterFailedProbes(`${this.probeFailures} failed probes in a row (${why})`)
      return
    }
    if (this.state === 'running') {
      this.moveTo('unhealthy', `probe ${this.probeFailures} of ${this.service.health.failureThreshold} failed: ${why}`)
      this.scheduleLiveness(this.scope.signal, startedMono)
    } else {
      this.scheduleLiveness(signal, startedMono)
    }
  }

  /**
   * A probe that failed on qm's own credentials says nothing of the service, and a restart
   * cannot mend qm's certificates: the service is marked unhealthy with the reason, the log
   * is told once, and probing goes on, with the failures in a row left as they were.
   */
  private credentialsFailed(probe: ProbeResult, signal: AbortSignal, startedMono: number): void {
    const why = `qm's own credentials fail: ${probe.reason ?? probe.status}; not restarted, since a restart cannot fix them (qm certs check)`
    if (!this.credentialWarning) {
      this.credentialWarning = true
      this.context.warn(`${this.name}: ${why}`)
    }
    if (this.state === 'running') {
      this.moveTo('unhealthy', why)
      this.scheduleLiveness(this.scope.signal, startedMono)
    } else {
      this.scheduleLiveness(signal, startedMono)
    }
  }

  private async restartAfterFailedProbes(cause: string): Promise<void> {
    this.moveTo('stopping', cause)
    const scope = this.scope.signal
    const killing = this.killProcess(Math.min(this.service.stopTimeoutMs, LIVENESS_KILL_MS))
    this.killing = killing
    try {
      await killing
    } finally {
      if (this.killing === killing) this.killing = undefined
    }
    // An operator stop came while the process was killed: it finishes the move to stopped.
    if (scope.aborted || this.stopping) return
    this.restarts++
    void this.launch(`restart ${this.restarts}: ${cause}`)
  }

  /** Operator stop: SIGTERM to the group, SIGKILL after stop_timeout, port confirmed closed. */
  async stop(cause = 'stopped by operator'): Promise<void> {
    if (this.stopping) return this.stopping
    if (this.state === 'stopping' && this.killing) {
      // A liveness restart is killing the process: let it finish, then stay stopped.
      const killing = this.killing
      this.stopping = (async () => {
        await killing
        if (this.state === 'stopping') {
          this.moveTo('stopped', cause)
          await this.setActive(false)
        }
      })().finally(() => {
        this.stopping = undefined
      })
      return this.stopping
    }
    switch (this.state) {
      case 'stopped':
        return
      case 'backoff':
      case 'exited':
      case 'fatal':
        this.moveTo('stopped', cause)
        await this.setActive(false)
        return
      default:
        this.stopping = (async () => {
          this.moveTo('stopping', cause)
          this.settleAttempt({...this.result(false), reason: 'stopped before it became healthy'})
          await this.killProcess()
          this.moveTo('stopped', cause)
          await this.setActive(false)
        })().finally(() => {
          this.stopping = undefined
        })
        return this.stopping
    }
  }

  private async killProcess(stopTimeoutMs = this.service.stopTimeoutMs): Promise<void> {
    const running = this.process
    if (!running) return
    await stopGroup(running.pid, stopTimeoutMs)
    if (!running.adopted) this.lastExit = await running.exited
    running.watch.abort()
    if (this.process === running) this.process = undefined
    if (this.port !== undefined) {
      const port = this.port
      const goneAtMs = performance.now()
      // With the whole group gone the kernel has closed its sockets; a listener that is still
      // there belongs to a process outside the group that inherited it, and gets 2 s.
      await waitUntil(() => !this.context.listeners.portsSince(goneAtMs).has(port), 2000, 25)
    }
    this.context.channels.drop(this.target(this.port ?? 0))
  }

  /** After a manifest change: the new spec applies at the next (re)start. */
  replaceSpec(instance: ServiceInstance): void {
    this.instance = instance
  }

  status(): InstanceStatus {
    const nowMs = this.context.nowMs()
    const pid = this.process?.pid ?? null
    let cpu: number | null = null
    let memory: number | null = null
    if (pid !== null) {
      const sample = sampleUsage(pid, nowMs)
      if (sample) {
        memory = sample.rssBytes
        const previous = this.usage && nowMs - this.usage.atMs >= 200 ? this.usage : undefined
        const lifetime = {cpuSeconds: 0, rssBytes: 0, atMs: this.process!.startedAtMs}
        cpu = Math.round(cpuPercent(previous ?? lifetime, sample) * 10) / 10
        if (!this.usage || nowMs - this.usage.atMs >= 200) this.usage = sample
      }
    }
    // A probe result says something only about a process that is there.
    const probe = LIVE_STATES.has(this.state) ? this.lastProbe : undefined
    return {
      name: this.name,
      service: this.service.name,
      state: this.state,
      pid,
      port: this.port ?? null,
      health: probe ? {status: probe.status, latencyMs: probe.latencyMs, method: probe.method, ...(probe.reason ? {reason: probe.reason} : {}), ...(probe.cause ? {cause: probe.cause} : {})} : null,
      version: probe?.version ?? null,
      expectedVersion: this.service.expectedVersion ?? null,
      uptimeMs: this.process && (this.state === 'running' || this.state === 'unhealthy') ? nowMs - this.process.startedAtMs : null,
      restarts: this.restarts,
      cpuPercent: cpu,
      memoryBytes: memory,
      lastExit: this.lastExit ?? null,
      detail: this.detail ?? null,
      lastLogLine: this.state === 'fatal' || this.state === 'backoff' || this.state === 'exited' ? (serviceLogTail(this.logFile, 1)[0] ?? null) : null,
    }
  }

  private moveTo(to: ServiceState, cause: string): void {
    const from = this.state
    if (!canMove(from, to)) throw new IllegalTransition(this.name, from, to)
    this.scope.abort()
    this.scope = new AbortController()
    this.state = to
    this.stateSinceMs = this.context.nowMs()
    if (to === 'starting') this.launchStartedMono = performance.now()
    this.save()
    this.context.records.addTransition({atMs: this.stateSinceMs, name: this.name, from, to, cause, pid: this.process?.pid ?? null, startTime: this.process?.startTime ?? null})
    this.context.onTransition({name: this.name, from, to, cause, atMs: this.stateSinceMs})
  }

  private save(): void {
    this.context.records.save({
      name: this.name,
      service: this.service.name,
      pid: this.process?.pid ?? null,
      startTime: this.process?.startTime ?? null,
      port: this.port ?? null,
      state: this.state,
      restarts: this.restarts,
      lastExitCode: this.lastExit?.code ?? null,
      lastExitSignal: this.lastExit?.signal ?? null,
      stateSinceMs: this.stateSinceMs,
      startedAtMs: this.process?.startedAtMs ?? null,
      fingerprint: this.fingerprint ?? null,
      registeredByQm: this.registeredByQm,
      detail: this.detail ?? null,
    })
  }

  private setActive(active: boolean): Promise<void> {
    return this.context.registryWrites.setActive(this.name, active)
  }

  private settleAttempt(result: AttemptResult): void {
    const waiters = this.attemptWaiters
    this.attemptWaiters = []
    for (const resolve of waiters) resolve(result)
  }

  private result(ok: boolean): AttemptResult {
    return {
      name: this.name,
      ok,
      state: this.state,
      ...(this.lastProbe ? {probe: this.lastProbe} : {}),
      ...(this.process ? {pid: this.process.pid} : {}),
      ...(this.port === undefined ? {} : {port: this.port}),
      ...(ok && this.healthyAfterMs !== undefined ? {healthyAfterMs: this.healthyAfterMs} : {}),
    }
  }

  private target(port: number): ProbeTarget {
    return {host: '127.0.0.1', port, certs: this.service.certs, serverName: this.service.health.serverName}
  }

  private probeOptions() {
    return {type: this.service.health.type, timeoutMs: this.service.health.timeoutMs, versionKeys: this.service.health.versionKeys}
  }
}

export function describeExit(exit: ExitInfo): string {
  if (exit.signal) return `killed by ${exit.signal}`
  if (exit.code === null) return 'ended (exit status unknown: it was adopted)'
  return `exited with code ${exit.code}`
}

/** Runs fn after ms unless the signal aborts first; leaves no listener behind either way. */
function afterDelay(signal: AbortSignal, ms: number, fn: () => void): void {
  if (signal.aborted) return
  const onAbort = () => clearTimeout(timer)
  const timer = setTimeout(() => {
    signal.removeEventListener('abort', onAbort)
    fn()
  }, ms)
  signal.addEventListener('abort', onAbort, {once: true})
}
