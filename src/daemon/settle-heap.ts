// A full garbage collection once the daemon has been quiet for a moment after a change to
// its services. A start of 40 leaves some 4 MB of V8 heap behind (the probes' calls and
// handshakes, the events of 40 transitions) that V8's own memory reducer gives back only
// some 8 to 10 s later; collected here, the daemon is at its steady size when the command
// returns. gc() exists only with --expose-gc, which the CLI gives the background daemon
// (src/control/connect.ts); elsewhere (`qm up`) this does nothing.
const QUIET_MS = 1000

export class HeapSettler {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly collect: (() => void) | undefined = (globalThis as {gc?: () => void}).gc,
    private readonly quietMs = QUIET_MS,
  ) {}

  /** The daemon just finished a change: collect once it has been quiet for a moment. */
  changed(): void {
    if (!this.collect) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.collect?.(), this.quietMs).unref()
  }

  close(): void {
    clearTimeout(this.timer)
  }
}
