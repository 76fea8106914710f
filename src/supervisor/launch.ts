// Starting a service: the operator's start, the checks that can refuse it before anything
// changes (prepare), and one launch: spawn, then the race between the first SERVING
// answer and the process's exit. A failed start goes to the restart policy.
import {assertCertificatesUsable} from '../certs/check.js'
import {waitUntilServing} from '../health/wait.js'
import {localPortUsage} from '../registry/port-usage.js'
import {launchFingerprint, serviceArgv} from '../manifest/instances.js'
import {serviceLogTail, type LogWriter} from './log-files.js'
import {assertPortFree, bindFailure, resolveExecutable, SpawnRefused} from './preflight.js'
import {stopGroup} from './process-group.js'
import {isRegistryOutage} from './registry-writes.js'
import {retry, watchExit} from './restart.js'
import {scheduleStableReset} from './liveness.js'
import {describeExit, type PrepareShared, type RunningProcess, type ServiceRecord} from './service-record.js'
import {spawnProcess, type ExitInfo} from './spawn.js'
import {LIVE_STATES, type AttemptResult} from './states.js'

const FAILED_START_LOG_LINES = 20
// The latest a restart's log process starts after the spawn; until then the service's output
// waits in the pipe (64 KiB), and is stamped with the time it is read.
const LOG_PROCESS_AFTER_MS = 1000
const FAILED_START_LOG_WAIT_MS = 3000

export interface StartOptions {
  /** prepare() has run already. */
  prepared?: boolean
  /** Its log process, started already; ended here if this start spawns nothing. */
  logWriter?: LogWriter
}

/** Operator start. Resolves when the service is healthy or the attempt has failed. */
export async function start(r: ServiceRecord, cause: string, options: StartOptions = {}): Promise<AttemptResult> {
  // A log process started ahead serves only a launch that follows at once, with nothing
  // awaited before it: while a process of the service lives, its own log process still
  // reads the same pipe, and two readers would split its lines and its size count.
  const logWriter = options.prepared && !LIVE_STATES.has(r.state) ? options.logWriter : undefined
  if (logWriter === undefined) options.logWriter?.closeInput()
  if (r.state === 'stopping' || r.state === 'draining') await (r.stopping ?? r.killing)
  if (r.state === 'running' || r.state === 'unhealthy') return r.result(true)
  if (r.state === 'starting') return new Promise((resolve) => r.attemptWaiters.push(resolve))
  if (!options.prepared) await prepare(r)
  const attempt = new Promise<AttemptResult>((resolve) => r.attemptWaiters.push(resolve))
  r.failuresInRow = 0
  void launch(r, cause, logWriter)
  return attempt
}

/**
 * Checks that can refuse a start before anything changes: folder, executable, port.
 * Registers the port when the service has none yet, and undoes that if a later check fails.
 */
export async function prepare(r: ServiceRecord, shared: PrepareShared = {}): Promise<void> {
  const {service, context} = r
  const host = context.registryHost
  const {sockets} = shared
  resolveExecutable(r.name, service, process.env)
  // Services of one start mostly share one certificate set: it is checked once.
  const certificates = shared.certificateChecks?.get(service.certs.dir) ?? assertCertificatesUsable(service.certs, host)
  shared.certificateChecks?.set(service.certs.dir, certificates)
  await certificates.catch((error: unknown) => {
    throw new SpawnRefused(r.name, (error as Error).message, 'qm certs check shows every finding; qm certs init makes a development set', 'CERTS')
  })
  const existing = await context.endpoints.find(r.name, host).catch((error: unknown) => {
    // During a registry outage a service that had a port keeps it: its row is still there,
    // only out of reach, and a restart must not wait for the database.
    if (r.port === undefined || !isRegistryOutage(error)) throw error
    context.warn(`${r.name}: keeps port ${r.port} while the registry is out of reach: ${(error as Error).message}`)
    return {port: r.port}
  })
  const portChecks = {range: context.portRange, fixed: service.port !== 'auto', ...(sockets ? {sockets} : {})}
  // A fixed port is checked before it is registered, so the refusal names the holder and
  // what to do for a start (the registry's own refusal speaks of qm register's --port).
  if (!existing && service.port !== 'auto') assertPortFree(r.name, service.port, {...portChecks, registered: false})
  let port: number
  let registeredNow = false
  if (existing) {
    if (service.port !== 'auto' && existing.port !== service.port) {
      throw new SpawnRefused(r.name, `the manifest gives port ${service.port} but the registry has port ${existing.port}`, `run "qm unregister ${r.name}" to let the manifest's port apply`, 'PORT_MISMATCH')
    }
    port = existing.port
  } else {
    const outcome = await context.endpoints.register({
      name: r.name,
      host,
      ...(service.port === 'auto' ? {} : {port: service.port}),
      active: false,
      range: context.portRange,
      portInUse: localPortUsage(host, sockets),
    })
    port = outcome.endpoint.port
    registeredNow = true
  }
  try {
    assertPortFree(r.name, port, {...portChecks, registered: !registeredNow})
  } catch (error) {
    if (registeredNow) await context.endpoints.unregister(r.name, host)
    throw error
  }
  if (registeredNow) r.registeredByQm = true
  r.port = port
}

/** One launch: starting, then running, or a failed start handed to the restart policy. */
export async function launch(r: ServiceRecord, cause: string, logWriter?: LogWriter): Promise<void> {
  if (r.context.closing()) {
    logWriter?.closeInput()
    r.settleAttempt({...r.result(false), reason: 'not started: qm is shutting down'})
    return
  }
  r.moveTo('starting', cause)
  // Health belongs to one process: the last probe of the one before says nothing of this one.
  r.lastProbe = undefined
  r.healthyAfterMs = undefined
  r.credentialWarning = false
  const scope = r.scope.signal
  const port = r.port!
  let spawned
  try {
    // The port was checked when the operator started the service (prepare). A restart does
    // not read the socket table again: that costs milliseconds of a respawn, and a
    // service that cannot bind exits, after which bindFailure names what holds the port.
    const executable = resolveExecutable(r.name, r.service, process.env)
    const argv = serviceArgv(r.service, port)
    spawned = spawnProcess({executable, args: argv.slice(1), cwd: r.service.cwd, env: r.service.env, logFile: r.logFile, logs: r.service.logs, ...(logWriter ? {logWriter} : {logPipe: r.freeLogPipe()})})
  } catch (error) {
    logWriter?.closeInput()
    failedStart(r, (error as Error).message, error instanceof SpawnRefused ? error.hint : undefined)
    return
  }
  r.logPipeReleased.set(spawned.logPipe, spawned.logReleased)
  const startLogging = () => {
    const problem = spawned.startLogging()
    if (problem) r.context.warn(`${r.name}: ${problem}`)
  }
  if (scope.aborted) {
    // Stopped while spawning: the stop found no process, so end this one here.
    startLogging()
    await stopGroup(spawned.pid, r.service.stopTimeoutMs)
    return
  }
  // A launch of its own (a restart; a start's launches share one made ahead) starts its log
  // process once the service has answered or ended, or LOG_PROCESS_AFTER_MS after the spawn
  // if it is slower. Perl's start-up and a second fork of the daemon, next to the service's
  // own start on two busy cores, made a kill -9 take about 50 ms longer to answer again.
  const loggingLater = setTimeout(startLogging, LOG_PROCESS_AFTER_MS)
  const running: RunningProcess = {...spawned, adopted: false, startedAtMs: r.clock.nowMs(), watch: new AbortController()}
  r.process = running
  r.fingerprint = launchFingerprint(r.service, port)
  r.save()
  watchExit(r, running)

  const waitScope = new AbortController()
  const signal = AbortSignal.any([scope, waitScope.signal])
  const ready = waitUntilServing(r.target(port), {...r.probeOptions(), startTimeoutMs: r.service.health.startTimeoutMs, probeUntilDeadline: true, channels: r.context.channels, signal})
    .then((probe) => ({probe}))
    .catch((error: unknown) => ({aborted: error}))
  const exit = running.exited.then((exitInfo) => ({exitInfo}))
  const outcome = await Promise.race([ready, exit])
  clearTimeout(loggingLater)
  startLogging()
  waitScope.abort()
  if (scope.aborted) return // an operator stop took over
  if ('exitInfo' in outcome || running.exitInfo) {
    const info = running.exitInfo ?? (outcome as {exitInfo: ExitInfo}).exitInfo
    r.lastExit = info
    r.process = undefined
    // Its last lines may still be in the pipe to its log process, which a launch of its own
    // started only now: Perl's start-up is in this wait too, on a host that may be busy.
    await running.logged(FAILED_START_LOG_WAIT_MS)
    if (scope.aborted) return
    const held = bindFailure(port, serviceLogTail(r.logFile, FAILED_START_LOG_LINES), r.context.portRange)
    failedStart(r, `${describeExit(info)} before it became healthy${held ? `; port ${port} is held: ${held.what}` : ''}`, held?.fix)
    return
  }
  // Not healthy in time, or the probe itself could not run (unreadable client certificates):
  // either way the process is killed and the start counts as failed.
  const probe = 'probe' in outcome ? outcome.probe : undefined
  if (probe) r.probed(probe)
  if (probe?.status !== 'SERVING') {
    await stopGroup(running.pid, Math.min(r.service.stopTimeoutMs, 2000))
    await running.exited
    if (scope.aborted) return // an operator stop took over while the process was killed
    if (r.process === running) r.process = undefined
    const why = probe
      ? `not healthy within start_timeout ${r.service.health.startTimeoutMs} ms: ${probe.status}${probe.reason ? `, ${probe.reason}` : ''}`
      : `the health probe could not run: ${((outcome as {aborted: unknown}).aborted as Error)?.message ?? 'unknown error'}`
    failedStart(r, why)
    return
  }
  r.probeFailures = 0
  r.detail = undefined
  r.healthyAfterMs = Math.round(r.clock.monotonicMs() - r.launchStartedMono)
  r.moveTo('running', `healthy in ${r.healthyAfterMs} ms via ${probe.method === 'grpc' ? 'grpc.health.v1' : probe.method === 'call' ? 'Call' : 'tcp'}`)
  // Liveness starts now, not after the registry write, which may wait on another writer's lock.
  scheduleStableReset(r, r.scope.signal)
  await r.setActive(true)
  r.settleAttempt(r.result(true))
}

function failedStart(r: ServiceRecord, reason: string, hint?: string): void {
  r.detail = reason
  r.failuresInRow++
  r.settleAttempt({...r.result(false), reason, ...(hint ? {hint} : {}), logTail: serviceLogTail(r.logFile, FAILED_START_LOG_LINES)})
  if (r.service.restart === 'never') {
    r.moveTo('backoff', reason)
    r.moveTo('fatal', 'restart is never: not tried again')
    return
  }
  retry(r, reason)
}
