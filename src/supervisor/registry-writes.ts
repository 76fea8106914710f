// The daemon's is_active writes. A registry outage must not stop or restart a service, so a
// write that fails is kept (the latest wanted value per name, which is all the row needs)
// and written when the database answers again: on a timer, and on each liveness tick.
// Writes go one batch at a time, in order, so a name's rows end as its last change says. A
// batch is every change asked for before it begins, written at once (setActiveMany):
// forty services stopping together cost one commit, not forty. It begins on the next turn of the event
// loop, after the caller's own work of this turn (a respawn's spawn goes first).
// A caller waits for its write at most WRITE_PATIENCE_MS: a database that is slow or
// locked by another writer (Django saving a session in the same SQLite file) must not
// hold up a start or a stop; the write goes on in the queue and lands when it can.
import {setTimeout as sleep} from 'node:timers/promises'
import {NotRegisteredError} from '../errors.js'
import {isOutage} from '../registry/deferred-store.js'
import type {EndpointStore} from '../registry/store.js'

export interface RegistryBacklog {
  /** is_active changes the daemon made but could not write yet. */
  pendingWrites: number
  /** Why the last attempt failed; null when nothing waits. */
  lastError: string | null
}

/** The is_active changes a daemon could not write before it stopped: its rows still say otherwise. */
export interface UnwrittenChanges {
  changes: {name: string; active: boolean}[]
  lastError: string | null
}

export const REGISTRY_RETRY_MS = 3000
// Liveness ticks of many services come close together; one attempt a second is plenty.
const TICK_RETRY_GAP_MS = 1000
export const WRITE_PATIENCE_MS = 200

/** Whether an error means the registry is out of reach, rather than a refusal of this request. */
export const isRegistryOutage = isOutage

export class RegistryWrites {
  private readonly pending = new Map<string, boolean>()
  private lastError: string | undefined
  private chain: Promise<void> = Promise.resolve()
  /** The batch that has not begun yet: a change asked for now goes in it. */
  private nextBatch: Promise<void> | undefined
  private writing = false
  private timer: NodeJS.Timeout | undefined
  private lastAttemptMs = Number.NEGATIVE_INFINITY
  private closed = false

  constructor(
    private readonly endpoints: EndpointStore,
    private readonly host: string,
    private readonly warn: (message: string) => void,
    private readonly retryMs = REGISTRY_RETRY_MS,
  ) {}

  /**
   * Resolves once the row is written, the change is kept for later, or WRITE_PATIENCE_MS
   * has passed with the write still queued; never rejects.
   */
  setActive(name: string, active: boolean): Promise<void> {
    this.pending.set(name, active)
    // Already behind: the retry writes it. Waiting here on a database that is down would
    // hold up the start or stop that asked, once per service.
    if (this.lastError !== undefined) return Promise.resolve()
    return Promise.race([this.drain(), sleep(WRITE_PATIENCE_MS, undefined, {ref: false})])
  }


  /** A liveness tick: a chance to catch up, taken at most once a second. */
  retrySoon(): void {
    if (this.pending.size === 0 || this.writing || performance.now() - this.lastAttemptMs < TICK_RETRY_GAP_MS) return
    void this.drain()
  }

  /** A name whose row is gone (removed from the manifest): nothing of it is left to write. */
  forget(name: string): void {
    this.pending.delete(name)
  }

  backlog(): RegistryBacklog {
    return {pendingWrites: this.pending.size, lastError: this.pending.size > 0 ? (this.lastError ?? null) : null}
  }

  /** One last attempt, then no more timers; says, and returns, what stays unwritten. */
  async close(): Promise<UnwrittenChanges> {
    if (this.pending.size > 0) await this.drain()
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    if (this.pending.size > 0) this.warn(`registry: ${this.pending.size} is_active change(s) could not be written before the daemon stopped: ${[...this.pending.keys()].join(', ')}`)
    return {changes: [...this.pending].map(([name, active]) => ({name, active})), lastError: this.pending.size > 0 ? (this.lastError ?? null) : null}
  }

  /**
   * Every caller until the next batch begins shares that batch. A link of the chain per
   * caller made forty stops wait one turn of the event loop each, one after another, and
   * the last SIGTERM of `qm stop` went out some 50 ms after the first.
   */
  private drain(): Promise<void> {
    if (this.nextBatch) return this.nextBatch
    const run = this.chain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        this.nextBatch = undefined
        return this.writeAll()
      })
    this.nextBatch = run
    // A batch that failed in a way writeAll did not catch must not stop every later one.
    this.chain = run.catch(() => {
      this.nextBatch = undefined
    })
    return run
  }

  private async writeAll(): Promise<void> {
    if (this.closed) return
    this.writing = true
    try {
      while (this.pending.size > 0) {
        this.lastAttemptMs = performance.now()
        const batch = new Map(this.pending)
        let missing: string[]
        try {
          missing = await this.endpoints.setActiveMany(this.host, batch)
        } catch (error) {
          this.fellBehind(error)
          return
        }
        for (const name of missing) {
          // The row was removed meanwhile (qm unregister, the platform's admin): nothing to mark.
          const active = batch.get(name)!
          this.warn(`${name}: could not mark the registry row ${active ? 'active' : 'inactive'}: ${new NotRegisteredError(name, this.host).message}`)
        }
        for (const [name, active] of batch) if (this.pending.get(name) === active) this.pending.delete(name)
      }
      if (this.lastError !== undefined) {
        this.warn('registry: reachable again; every kept is_active change is written')
        this.lastError = undefined
      }
    } finally {
      this.writing = false
    }
  }

  private fellBehind(error: unknown): void {
    const message = (error as Error).message
    if (this.lastError === undefined) {
      this.warn(`registry: ${message}; keeping ${this.pending.size} is_active change(s) and retrying every ${this.retryMs / 1000}s, services go on as they are`)
    }
    this.lastError = message
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.drain()
    }, this.retryMs)
    this.timer.unref()
  }
}
