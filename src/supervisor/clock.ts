// Time as the supervisor sees it, injected so that tests can drive the state machine on a
// virtual clock: the wall clock (display and records), a monotonic clock (deadlines and
// durations), and timers that an AbortSignal ends.

export interface Clock {
  /** Wall-clock milliseconds since the epoch, for display and records. */
  nowMs(): number
  /** Monotonic milliseconds, for deadlines and "healthy in N ms". */
  monotonicMs(): number
  /** Runs fn after ms unless the signal aborts first; leaves no listener behind either way. */
  after(signal: AbortSignal, ms: number, fn: () => void): void
}

export const realClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  after(signal, ms, fn) {
    if (signal.aborted) return
    const onAbort = () => clearTimeout(timer)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      fn()
    }, ms)
    signal.addEventListener('abort', onAbort, {once: true})
  },
}
