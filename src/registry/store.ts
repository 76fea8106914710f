// The ServiceEndpoint registry as the rest of qm sees it. Asynchronous so that the
// embedded SQLite store and a database server's store fit the same shape; every call
// names the host, because one table may serve a fleet.

export interface Endpoint {
  id: number
  name: string
  host: string
  port: number
  protocol: string
  active: boolean
}

export interface RegisterRequest {
  name: string
  host: string
  /** A fixed port; absent means the lowest free one in range. */
  port?: number
  active: boolean
  range: readonly [number, number]
  /** Asked inside the write transaction, so its answer and the insert are one step. */
  portInUse: (port: number) => string | undefined
}

export interface RegisterOutcome {
  endpoint: Endpoint
  created: boolean
}

/** A row moving to another port in one transaction, keeping its id and name. */
export interface MoveRequest {
  name: string
  host: string
  /** The port the row must still have: another writer's change is not overwritten. */
  fromPort: number
  toPort: number
  /** A row of this host holding toPort for the move (a reservation), deleted in the same transaction. */
  releasing?: string
}

/** A row as it was seen: only a row still like this (and still active) may be marked inactive. */
export interface SeenRow {
  id: number
  name: string
  host: string
  port: number
}

export interface EndpointStore {
  /** Rows of one host, or of every host when host is undefined, by port. */
  list(host?: string): Promise<Endpoint[]>
  find(name: string, host: string): Promise<Endpoint | undefined>
  register(request: RegisterRequest): Promise<RegisterOutcome>
  unregister(name: string, host: string): Promise<Endpoint>
  setActive(name: string, host: string, active: boolean): Promise<void>
  /**
   * Many rows of one host at once: one commit on SQLite (one fsync for forty services
   * stopping together), at most two statements on PostgreSQL. Resolves with the names that
   * have no row.
   */
  setActiveMany(host: string, changes: ReadonlyMap<string, boolean>): Promise<string[]>
  move(request: MoveRequest): Promise<Endpoint>
  /**
   * Marks the row inactive only if it is still active with the same id, name, host and port
   * as when it was seen (one statement, so no writer slips in between); false when it was not.
   */
  deactivateIfUnchanged(seen: SeenRow): Promise<boolean>
  /** Inserts a row of this host in a transaction it rolls back: throws what a registration would meet. */
  checkInsert(host: string): Promise<void>
  close(): Promise<void>
}
