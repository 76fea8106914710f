// Waits for a starting service to answer SERVING. While nothing listens on its port a poll
// is one read of the socket table, no dial, so the waiter polls every 10 ms at first and
// sees a service that is up in 150 ms within a few ms of it; once the port listens but
// the service does not answer SERVING, each poll is a TLS handshake and the pauses double.
// Not more often: each read walks the kernel's socket hash tables (2 to 4 ms of CPU), and
// on two cores a poll every 5 ms took enough from the starting service itself that a
// kill -9 took longer to answer again (about 175 ms against 135 to 150 ms at 10 ms, in
// runs of ten kills with 40 guide services).
// With probeUntilDeadline (a start's readiness), a probe waits for its answer until the
// wait's own deadline, not only timeoutMs: a service that listens but is still starting
// (grpcio listens from add_secure_port on, before server.start(), and on a busy host that
// can take seconds) answers on that very connection once it serves, where a probe cut off
// at timeoutMs would throw the connection away and pay a new TLS handshake.
import {ProbeChannels} from './probe.js'
import type {ProbeOptions, ProbeResult, ProbeTarget} from '../grpc/types.js'

export interface WaitOptions extends ProbeOptions {
  /** The whole wait; each probe gets at most `timeoutMs` of what is left. */
  startTimeoutMs: number
  /** Each probe may use all of what is left of the wait, whatever `timeoutMs` says. */
  probeUntilDeadline?: boolean
  /** Channels to probe through; the SERVING channel then stays open in them. Default: a set of its own, closed at the end. */
  channels?: ProbeChannels
  /** First pause between probes (default 10 ms). */
  initialDelayMs?: number
  /** Longest pause between probes that reached the service (default 200 ms). */
  maxDelayMs?: number
  /**
   * Longest pause while nothing listens on the port (default 20 ms): each such poll is only a
   * table read, shared by every waiter of the turn. At 50 ms a start of 40 returned up to
   * 100 ms after its last service answered (a poll that late, on a read that old), for no
   * less CPU: a start took the daemon the same 60 to 66 ticks either way.
   */
  maxIdleDelayMs?: number
  /** Told of every probe, e.g. to show progress. */
  onProbe?: (result: ProbeResult) => void
}

/**
 * Resolves with the first SERVING result, or with the last failure once `startTimeoutMs`
 * has passed; rejects with the signal's reason when `signal` aborts.
 */
export async function waitUntilServing(target: ProbeTarget, options: WaitOptions): Promise<ProbeResult> {
  const {startTimeoutMs, probeUntilDeadline = false, channels: given, initialDelayMs = 10, maxDelayMs = 200, maxIdleDelayMs = 20, onProbe, ...probeOptions} = options
  const channels = given ?? new ProbeChannels()
  const startedMs = performance.now()
  const deadlineMs = startedMs + startTimeoutMs
  let dialledDelayMs = initialDelayMs
  let last: ProbeResult | undefined
  // 3% of the time waited so far: the lag after a service comes up stays a small fraction
  // of its start-up time, while a read of the socket table (a few ms of kernel time on a
  // large host, shared by all waiters through the dial guard) stays a small duty cycle.
  const idlePauseMs = () => Math.min(maxIdleDelayMs, Math.max(initialDelayMs, (performance.now() - startedMs) * 0.03))
  try {
    for (;;) {
      const leftMs = deadlineMs - performance.now()
      if (last && leftMs <= 0) return last
      const timeoutMs = Math.max(1, probeUntilDeadline ? leftMs : Math.min(probeOptions.timeoutMs, leftMs))
      const {result, dialled} = await channels.attempt(
        target,
        {...probeOptions, timeoutMs},
        {listenerCacheMs: idlePauseMs()},
      )
      onProbe?.(result)
      if (result.status === 'SERVING') return result
      // A probe cut short by the deadline that timed out says less than the failure before it;
      // one that had the whole rest of the wait says the most there is to say.
      const cutShort = !probeUntilDeadline && result.status === 'TIMEOUT' && timeoutMs < probeOptions.timeoutMs && last && last.status !== 'TIMEOUT'
      if (!cutShort) last = result
      let pauseMs: number
      if (dialled) {
        pauseMs = dialledDelayMs
        dialledDelayMs = Math.min(maxDelayMs, dialledDelayMs * 2)
      } else {
        pauseMs = idlePauseMs()
      }
      await sleep(Math.min(pauseMs, Math.max(0, deadlineMs - performance.now())), options.signal)
    }
  } finally {
    if (!given) channels.close()
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted()
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}
