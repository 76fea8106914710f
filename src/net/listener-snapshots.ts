// One read of the listening sockets shared by every caller that can use a read made
// after a given moment. Forty services stopping together each want to see their port
// closed after their process group is gone; each read costs the kernel a walk of its
// socket hash tables (several ms on a large machine), so they share reads.
import {listeningPorts} from './socket-table.js'

export class ListenerSnapshots {
  private last: {readAtMs: number; ports: Set<number>} | undefined

  /** Listening ports as of a read made at or after `sinceMs` (performance.now()). */
  portsSince(sinceMs: number): ReadonlySet<number> {
    if (this.last && this.last.readAtMs >= sinceMs) return this.last.ports
    const readAtMs = performance.now()
    this.last = {readAtMs, ports: listeningPorts()}
    return this.last.ports
  }
}
