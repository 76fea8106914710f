// One read of the kernel's socket table shared by every caller that can use a read made
// after a given moment. Forty services stopping together each want to see their port
// closed after their process group is gone, and forty starting together each want to dial
// only a port that listens; each read costs the kernel a walk of its socket hash tables
// (several ms on a large machine), so they share reads.
import {listeningPorts} from './socket-table.js'

// A read is made on the next turn of the event loop, so that every caller of this turn
// (process groups reaped together, dials asked for together) waits for that one read.
export class SharedRead<T> {
  private last: {readAtMs: number; value: T} | undefined
  private next: Promise<T> | undefined

  constructor(private readonly read: () => T) {}

  /** The last read, if it was begun at or after `sinceMs` (performance.now()); nothing is read. */
  readSince(sinceMs: number): T | undefined {
    return this.last && this.last.readAtMs >= sinceMs ? this.last.value : undefined
  }

  /** A read begun at or after `sinceMs`: the last one if it is recent enough, else the next turn's. */
  since(sinceMs: number): Promise<T> {
    if (this.last && this.last.readAtMs >= sinceMs) return Promise.resolve(this.last.value)
    this.next ??= new Promise((resolve, reject) =>
      setImmediate(() => {
        this.next = undefined
        try {
          this.last = {readAtMs: performance.now(), value: this.read()}
          resolve(this.last.value)
        } catch (error) {
          reject(error)
        }
      }),
    )
    return this.next
  }
}

/** The ports with a listener, as the daemon's stops confirm them closed. */
export class ListenerSnapshots extends SharedRead<ReadonlySet<number>> {
  constructor() {
    super(() => listeningPorts())
  }

  portsSince(sinceMs: number): Promise<ReadonlySet<number>> {
    return this.since(sinceMs)
  }
}
