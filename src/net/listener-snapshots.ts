// One read of the listening sockets shared by every caller that can use a read made
// after a given moment. Forty services stopping together each want to see their port
// closed after their process group is gone; each read costs the kernel a walk of its
// socket hash tables (several ms on a large machine), so they share reads.
import {listeningPorts} from './socket-table.js'

// A read is made on the next turn of the event loop, so that every process group found
// gone in this turn (their exits are reaped together) waits for that one read.
export class ListenerSnapshots {
  private last: {readAtMs: number; ports: Set<number>} | undefined
  private next: Promise<ReadonlySet<number>> | undefined

  /** Listening ports as of a read made at or after `sinceMs` (performance.now()). */
  portsSince(sinceMs: number): Promise<ReadonlySet<number>> {
    if (this.last && this.last.readAtMs >= sinceMs) return Promise.resolve(this.last.ports)
    this.next ??= new Promise((resolve, reject) =>
      setImmediate(() => {
        this.next = undefined
        try {
          this.last = {readAtMs: performance.now(), ports: listeningPorts()}
          resolve(this.last.ports)
        } catch (error) {
          reject(error)
        }
      }),
    )
    return this.next
  }
}
