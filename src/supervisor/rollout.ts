// qm rollout: a new process before the old one goes. The platform finds a service through
// its registry row, and the row can move: a second process starts on a spare port (held
// by an inactive row of its own, so no registration on any host takes it meanwhile),
// passes the gates (health over mTLS, the expected version, one real Call), and then the
// row moves to it in one transaction, keeping its id and name. The old process drains,
// and is stopped once its clients are done. Until the watch period has passed, the old
// one stays: a new process that dies then hands the row back.
import {NotRegisteredError, QmError} from '../errors.js'
import type {ProbeResult} from '../grpc/types.js'
import {waitUntilServing} from '../health/wait.js'
import {launchFingerprint, serviceArgv} from '../manifest/instances.js'
import {untilNoClients} from '../net/client-connections.js'
import {localPortUsage} from '../registry/port-usage.js'
import {start} from './launch.js'
import {LOG_PIPES, serviceLogTail} from './log-files.js'
import {resolveExecutable} from './preflight.js'
import {stopGroup} from './process-group.js'
import {scheduleStableReset} from './liveness.js'
import {watchExit} from './restart.js'
import {describeExit, type RunningProcess, type ServiceRecord} from './service-record.js'
import {spawnProcess, type ExitInfo} from './spawn.js'
import type {AttemptResult, RolloutResult, RolloutStep} from './states.js'
import {DRAIN_POLL_MS, DRAIN_QUIET_MS, endProcess, stop} from './stop.js'

export interface RolloutOptions {
  /** The version the new process must report; the manifest's expected_version when absent. */
  expectVersion?: string
  /** A fixed-port service is restarted in place (with a drain) instead of refused. */
  allowDowntime?: boolean
  /** The old process's drain; the service's rollout.drain_delay when absent. */
  drainMs?: number
}

type Say = (step: RolloutStep, detail: string) => void

const LOG_LINES = 20

/** The inactive row that holds a rollout's spare port: not a service name (SERVICE_NAME_PATTERN has no ':'). */
export function reservationName(name: string): string {
  return `${name}:next`
}

class GateFailed extends Error {}

/** One instance's rollout; never throws for a gate, which is a refusal in the result. */
export async function rollout(r: ServiceRecord, options: RolloutOptions, say: Say): Promise<RolloutResult> {
  if (r.state !== 'running' && r.state !== 'unhealthy') {
    say('start', `${r.state}: nothing serves, so it is started`)
    const result = await start(r, 'rolled out (nothing served)')
    return started(result, 'start')
  }
  if (r.service.port !== 'auto') {
    if (!options.allowDowntime) {
      return {
        name: r.name,
        ok: false,
        way: 'none',
        reason: `it has the fixed port ${r.service.port}: a second process cannot listen beside the first, so the row cannot move`,
        hint: `give it port: auto to roll it out with no downtime, or run qm rollout --allow-downtime ${r.name} to restart it in place after a drain`,
      }
    }
    say('in-place', `fixed port ${r.service.port}: a drained stop, then a start on the same port`)
    await stop(r, 'rolled out in place (fixed port)', {drainMs: options.drainMs ?? r.service.rollout.drainDelayMs})
    const result = await start(r, 'rolled out in place (fixed port)')
    return started(result, 'in-place')
  }
  return swap(r, options, say)
}

/** A rollout that was a plain start (after a drained stop, for in-place), told as a rollout. */
function started(result: AttemptResult, way: 'start' | 'in-place'): RolloutResult {
  return {
    name: result.name,
    ok: result.ok,
    way,
    ...(result.port === undefined ? {} : {toPort: result.port}),
    ...(result.pid === undefined ? {} : {pid: result.pid}),
    ...(result.healthyAfterMs === undefined ? {} : {healthyAfterMs: result.healthyAfterMs}),
    ...(result.reason ? {reason: result.reason} : {}),
    ...(result.hint ? {hint: result.hint} : {}),
    ...(result.logTail ? {logTail: result.logTail} : {}),
  }
}

async function swap(r: ServiceRecord, options: RolloutOptions, say: Say): Promise<RolloutResult> {
  const {endpoints, registryHost: host} = r.context
  const old = r.process!
  const oldPort = r.port!
  const oldFingerprint = r.fingerprint
  const reservation = reservationName(r.name)
  // A reservation left by a rollout that never finished (its daemon killed) goes first.
  await endpoints.unregister(reservation, host).catch((error: unknown) => {
    if (!(error instanceof NotRegisteredError)) throw error
  })
  const reserved = await endpoints.register({name: reservation, host, active: false, range: r.context.portRange, portInUse: localPortUsage(host)})
  const spare = reserved.endpoint.port
  say('reserved', `port ${spare}, held by the inactive row ${reservation} until the switch`)
  let candidate: RunningProcess | undefined
  let probe: ProbeResult
  const spawnedAt = performance.now()
  let healthyAfterMs = 0
  try {
    candidate = await launchCandidate(r, spare, LOG_PIPES.find((pipe) => pipe !== (old.logPipe ?? ''))!)
    say('spawned', `pid ${candidate.pid} on port ${spare}`)
    probe = await untilHealthy(r, candidate, spare)
    healthyAfterMs = Math.round(performance.now() - spawnedAt)
    say('healthy', `${probe.status} in ${Math.round(probe.latencyMs)} ms over mTLS`)
    const expected = options.expectVersion ?? r.service.expectedVersion
    if (expected !== undefined) {
      if (probe.version !== expected) throw new GateFailed(`it reports version ${probe.version ?? '(none)'}, expected ${expected}`)
      say('version', `${probe.version}, as expected`)
    }
    const call = await r.context.channels.probe(r.target(spare), {type: 'call', timeoutMs: r.service.health.timeoutMs, versionKeys: r.service.health.versionKeys})
    if (call.status !== 'SERVING') throw new GateFailed(`its Call did not end with an end-of-stream frame: ${call.status}${call.reason ? `, ${call.reason}` : ''}`)
    say('call', `one Call ended with an end-of-stream frame in ${Math.round(call.latencyMs)} ms`)
    if (r.process !== old || (r.state !== 'running' && r.state !== 'unhealthy')) throw new GateFailed(`the old process (pid ${old.pid}) ended meanwhile; the restart policy has the service`)
    // From here until the record follows the row, the old process's exit is the rollout's.
    r.handingOver = true
    const moved = await endpoints.move({name: r.name, host, fromPort: oldPort, toPort: spare, releasing: reservation})
    handOver(r, candidate, spare, probe)
    say('switched', `row ${r.name} (id ${moved.id}) now names port ${spare}: new lookups find pid ${candidate.pid}`)
  } catch (error) {
    r.handingOver = false
    // Whatever failed, nothing of the new process stays: not it, not its reservation.
    if (candidate) {
      await stopGroup(candidate.pid, Math.min(r.service.stopTimeoutMs, 2000))
      r.context.channels.drop(r.target(spare))
    }
    await endpoints.unregister(reservation, host).catch(() => undefined)
    if (candidate) await candidate.logged()
    const reason = `the new process was not put in: ${(error as Error).message}`
    say('refused', `${reason}; pid ${old.pid} serves on, on port ${oldPort}`)
    return {name: r.name, ok: false, way: 'swap', fromPort: oldPort, reason, ...(error instanceof QmError && error.hint ? {hint: error.hint} : {}), logTail: serviceLogTail(r.logFile, LOG_LINES)}
  } finally {
    r.handingOver = false
  }
  const drainMs = options.drainMs ?? r.service.rollout.drainDelayMs
  const watchMs = r.service.rollout.watchMs
  say('draining', `old pid ${old.pid} on port ${oldPort}: up to ${drainMs} ms for its clients to finish; the new one is watched for ${watchMs} ms`)
  const switchedAt = performance.now()
  const died = await drainWatching(oldPort, candidate, drainMs, watchMs)
  if (died) {
    const afterMs = Math.round(performance.now() - switchedAt)
    // The row first: every moment it names a dead port, lookups fail.
    const back = await endpoints.move({name: r.name, host, fromPort: spare, toPort: oldPort}).then(
      () => undefined,
      (error: unknown) => error as Error,
    )
    handOver(r, old, oldPort, undefined, oldFingerprint)
    // Its children too, and whatever the port still holds.
    await stopGroup(candidate.pid, Math.min(r.service.stopTimeoutMs, 2000))
    r.context.channels.drop(r.target(spare))
    // The old process ended during the drain too: its exit, ignored then, goes to the restart policy now.
    if (old.exitInfo) watchExit(r, old)
    await candidate.logged()
    const reason = `the new process ${describeExit(died)} ${afterMs} ms after the switch`
    if (back) {
      say('rolled-back', `${reason}; the row could not be moved back: ${back.message}`)
      return {name: r.name, ok: false, way: 'swap', fromPort: oldPort, toPort: spare, reason: `${reason}, and its row could not be moved back to port ${oldPort}: ${back.message}`, logTail: serviceLogTail(r.logFile, LOG_LINES)}
    }
    say('rolled-back', `${reason}; the row names port ${oldPort} again, where pid ${old.pid} serves on`)
    return {name: r.name, ok: false, way: 'swap', fromPort: oldPort, toPort: spare, reason: `${reason}; the row is back on port ${oldPort}, where pid ${old.pid} serves on`, logTail: serviceLogTail(r.logFile, LOG_LINES)}
  }
  // From here the new process is the service's, its exit handled like any other.
  watchExit(r, candidate)
  await endProcess(r, old, oldPort, r.service.stopTimeoutMs)
  say('old-stopped', `pid ${old.pid} ended; port ${oldPort} is closed and free`)
  return {name: r.name, ok: true, way: 'swap', fromPort: oldPort, toPort: spare, pid: candidate.pid, healthyAfterMs}
}

async function launchCandidate(r: ServiceRecord, port: number, logPipe: string): Promise<RunningProcess> {
  const executable = resolveExecutable(r.name, r.service, process.env)
  const argv = serviceArgv(r.service, port)
  // The same log file (`qm logs` follows the service, whichever process speaks), through a
  // pipe of its own while the old one's writer still drains the old pipe.
  const spawned = spawnProcess({executable, args: argv.slice(1), cwd: r.service.cwd, env: r.service.env, logFile: r.logFile, logs: r.service.logs, logPipe})
  r.logPipeReleased.set(spawned.logPipe, spawned.logReleased)
  // A rollout's second process starts beside a serving one, so no respawn waits on its log process.
  const logProblem = spawned.startLogging()
  if (logProblem) r.context.warn(`${r.name}: ${logProblem}`)
  const candidate: RunningProcess = {...spawned, adopted: false, startedAtMs: r.clock.nowMs(), watch: new AbortController()}
  void candidate.exited.then((exit) => (candidate.exitInfo = exit))
  return candidate
}

/** The first SERVING answer within start_timeout, or GateFailed with why not. */
async function untilHealthy(r: ServiceRecord, candidate: RunningProcess, port: number): Promise<ProbeResult> {
  const waiting = new AbortController()
  const ready = waitUntilServing(r.target(port), {...r.probeOptions(), startTimeoutMs: r.service.health.startTimeoutMs, probeUntilDeadline: true, channels: r.context.channels, signal: waiting.signal})
    .then((probe) => ({probe}))
    .catch((error: unknown) => ({error: error as Error}))
  const outcome = await Promise.race([ready, candidate.exited.then((exit) => ({exit}))])
  waiting.abort()
  if ('exit' in outcome) throw new GateFailed(`it ${describeExit(outcome.exit)} before it became healthy`)
  if ('error' in outcome) throw new GateFailed(`the health probe could not run: ${outcome.error.message}`)
  const {probe} = outcome
  if (probe.status !== 'SERVING') throw new GateFailed(`not healthy within start_timeout ${r.service.health.startTimeoutMs} ms: ${probe.status}${probe.reason ? `, ${probe.reason}` : ''}`)
  return probe
}

/**
 * The record follows the process that the row names, and liveness starts over on it: a
 * probe in flight, and the failures counted, were the other process's.
 */
function handOver(r: ServiceRecord, to: RunningProcess, port: number, probe: ProbeResult | undefined, fingerprint = launchFingerprint(r.service, port)): void {
  r.process = to
  r.port = port
  r.fingerprint = fingerprint
  r.lastProbe = probe
  r.learnHealthService(probe)
  r.probeFailures = 0
  r.detail = undefined
  if (r.state === 'unhealthy') r.moveTo('running', `rolled out: pid ${to.pid} on port ${port} answers`)
  else {
    r.scope.abort()
    r.scope = new AbortController()
  }
  scheduleStableReset(r, r.scope.signal)
  r.save()
}

/**
 * The old process's drain, with the new one watched: resolves when the old one has no
 * client left (or drainMs is over) and watchMs has passed, or with the new process's exit
 * if it dies first.
 */
async function drainWatching(oldPort: number, candidate: RunningProcess, drainMs: number, watchMs: number): Promise<ExitInfo | undefined> {
  const started = performance.now()
  const over = new AbortController()
  const watched = new Promise<void>((resolve) => setTimeout(resolve, watchMs))
  const drained = untilNoClients(oldPort, {deadline: started + drainMs, quietMs: DRAIN_QUIET_MS, pollMs: DRAIN_POLL_MS, stop: over.signal})
  const kept = Promise.all([watched, drained]).then(() => undefined)
  try {
    // A death after the watch no longer moves the row back: the restart policy has it then.
    return await Promise.race([kept, candidate.exited.then((exit) => (performance.now() - started < watchMs ? exit : kept))])
  } finally {
    over.abort()
  }
}
