// Liveness: a probe every health.interval (from the start of the last, as Kubernetes's
// periodSeconds) on a kept channel; unhealthy after a failed probe, running again after a
// good one, and after failure_threshold failures in a row a kill with a short deadline and
// a new launch. A probe that fails on qm's own credentials never restarts anything.
import type {ProbeResult} from '../grpc/types.js'
import {launch} from './launch.js'
import {processStartTime} from './proc.js'
import type {ServiceRecord} from './service-record.js'
import {killProcess} from './stop.js'

// A process that liveness has found dead gets this long after SIGTERM, not the whole
// stop_timeout: it failed failure_threshold probes in a row, and a graceful stop is for
// processes that can still finish their work.
export const LIVENESS_KILL_MS = 1000

/** The next liveness probe, health.interval after the start of the last one. */
export function scheduleLiveness(r: ServiceRecord, signal: AbortSignal, lastStartedMono?: number): void {
  const interval = r.service.health.intervalMs
  const delay = lastStartedMono === undefined ? interval : Math.max(0, lastStartedMono + interval - r.clock.monotonicMs())
  r.clock.after(signal, delay, () => void probeLiveness(r, signal))
}

/** Liveness from now on, and the failures in a row forgotten once it has run backoff.reset_after. */
export function scheduleStableReset(r: ServiceRecord, signal: AbortSignal, lastProbeStartedMono?: number): void {
  scheduleLiveness(r, signal, lastProbeStartedMono)
  r.clock.after(signal, r.service.backoff.resetAfterMs, () => {
    r.failuresInRow = 0
  })
}

export async function probeLiveness(r: ServiceRecord, signal: AbortSignal): Promise<void> {
  r.context.registryWrites.retrySoon()
  if (signal.aborted || r.port === undefined) return
  const startedMono = r.clock.monotonicMs()
  let probe: ProbeResult
  try {
    probe = await r.context.channels.probe(r.target(r.port), {...r.probeOptions(), signal})
  } catch (error) {
    if (signal.aborted) return // the state changed while the probe ran
    // The probe could not run at all (client certificates gone or unreadable): qm's side.
    probe = {status: 'TLS_ERROR', latencyMs: 0, method: 'grpc', reason: `the probe could not run: ${(error as Error).message}`, cause: 'qm-credentials'}
  }
  if (signal.aborted) return
  r.probed(probe)
  if (probe.cause === 'qm-credentials') {
    credentialsFailed(r, probe, signal, startedMono)
    return
  }
  if (probe.status === 'SERVING') {
    r.credentialWarning = false
    r.probeFailures = 0
    if (r.state === 'unhealthy') {
      r.moveTo('running', `probe passed again (${probe.latencyMs} ms)`)
      scheduleStableReset(r, r.scope.signal, startedMono)
    } else {
      scheduleLiveness(r, signal, startedMono)
    }
    return
  }
  // A process that has just ended fails its probe too (its connection closes before the
  // kernel reports the exit): the exit, handled in a moment, is what happened, not an
  // unhealthy service. A kill -9 otherwise showed as running → unhealthy → exited now and then.
  const running = r.process
  if (running && processStartTime(running.pid) === undefined) {
    scheduleLiveness(r, signal, startedMono)
    return
  }
  r.probeFailures++
  const why = `${probe.status}${probe.reason ? `: ${probe.reason}` : ''}`
  if (r.probeFailures >= r.service.health.failureThreshold) {
    r.failuresInRow++
    void restartAfterFailedProbes(r, `${r.probeFailures} failed probes in a row (${why})`)
    return
  }
  if (r.state === 'running') {
    r.moveTo('unhealthy', `probe ${r.probeFailures} of ${r.service.health.failureThreshold} failed: ${why}`)
    scheduleLiveness(r, r.scope.signal, startedMono)
  } else {
    scheduleLiveness(r, signal, startedMono)
  }
}

/**
 * A probe that failed on qm's own credentials says nothing of the service, and a restart
 * cannot mend qm's certificates: the service is marked unhealthy with the reason, the log
 * is told once, and probing goes on, with the failures in a row left as they were.
 */
function credentialsFailed(r: ServiceRecord, probe: ProbeResult, signal: AbortSignal, startedMono: number): void {
  const why = `qm's own credentials fail: ${probe.reason ?? probe.status}; not restarted, since a restart cannot fix them (qm certs check)`
  if (!r.credentialWarning) {
    r.credentialWarning = true
    r.context.warn(`${r.name}: ${why}`)
  }
  if (r.state === 'running') {
    r.moveTo('unhealthy', why)
    scheduleLiveness(r, r.scope.signal, startedMono)
  } else {
    scheduleLiveness(r, signal, startedMono)
  }
}

async function restartAfterFailedProbes(r: ServiceRecord, cause: string): Promise<void> {
  r.moveTo('stopping', cause)
  const scope = r.scope.signal
  const killing = killProcess(r, Math.min(r.service.stopTimeoutMs, LIVENESS_KILL_MS))
  r.killing = killing
  try {
    await killing
  } finally {
    if (r.killing === killing) r.killing = undefined
  }
  // An operator stop came while the process was killed: it finishes the move to stopped.
  if (scope.aborted || r.stopping) return
  r.restarts++
  r.tally.restarted('liveness')
  void launch(r, `restart ${r.restarts}: ${cause}`)
}
