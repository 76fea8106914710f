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

export interface EndpointStore {
  /** Rows of one host, or of every host when host is undefined, by port. */
  list(host?: string): Promise<Endpoint[]>
  find(name: string, host: string): Promise<Endpoint | undefined>
  register(request: RegisterRequest): Promise<RegisterOutcome>
  unregister(name: string, host: string): Promise<Endpoint>
  setActive(name: string, host: string, active: boolean): Promise<void>
  /**
   * Many rows of one host in one transaction (one commit, so one fsync for forty services
   * stopping together). Resolves with the names that have no row.
   */
  setActiveMany(host: string, changes: ReadonlyMap<string, boolean>): Promise<string[]>
  move(request: MoveRequest): Promise<Endpoint>
  /** Inserts a row of this host in a transaction it rolls back: throws what a registration would meet. */
  checkInsert(host: string): Promise<void>
  close(): Promise<void>
}
