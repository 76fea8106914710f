// A clock that moves only when the test says so: the supervisor's backoff delays, liveness
// intervals and reset_after run on it, so a test steps through minutes of a service's
// life without waiting for them, while its processes, probes and signals stay real.
import type {Clock} from '../../src/supervisor/clock.js'

interface Timer {
  atMs: number
  fn: () => void
}

export class VirtualClock implements Clock {
  private wallMs = Date.UTC(2026, 11, 1, 12, 0, 0)
  private monoMs = 0
  private readonly timers = new Set<Timer>()

  nowMs(): number {
    return this.wallMs
  }

  monotonicMs(): number {
    return this.monoMs
  }

  after(signal: AbortSignal, ms: number, fn: () => void): void {
    if (signal.aborted) return
    const timer: Timer = {atMs: this.monoMs + ms, fn}
    this.timers.add(timer)
    signal.addEventListener('abort', () => this.timers.delete(timer), {once: true})
  }

  /** How far ahead each pending timer is, soonest first. */
  pending(): number[] {
    return [...this.timers].map((timer) => timer.atMs - this.monoMs).sort((a, b) => a - b)
  }

  /** Moves time forward by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.monoMs + ms
    for (;;) {
      const next = [...this.timers].filter((timer) => timer.atMs <= end).sort((a, b) => a.atMs - b.atMs)[0]
      if (!next) break
      this.timers.delete(next)
      this.move(next.atMs)
      next.fn()
    }
    this.move(end)
  }

  /** Fires the soonest pending timer, whatever its delay; returns that delay. */
  advanceToNext(): number {
    const delay = this.pending()[0]
    if (delay === undefined) throw new Error('no timer is pending')
    this.advance(delay)
    return delay
  }

  private move(toMs: number): void {
    this.wallMs += toMs - this.monoMs
    this.monoMs = toMs
  }
}
