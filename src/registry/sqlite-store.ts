// The embedded registry: the seed's ServiceEndpoint table in an SQLite file. The
// table is created when missing and never altered when it exists, so qm can share
// the file Django made. Allocation runs inside BEGIN IMMEDIATE, which takes the write
// lock before the read, so concurrent `qm register` runs are serialised even on a
// Django table that has no unique constraints.
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import Database from 'better-sqlite3'
import {NoFreePortError, NotRegisteredError, PortTakenError, RegistryError} from '../errors.js'
import {claimPort, pickPort, reuseExisting} from './allocation.js'
import type {Endpoint, EndpointStore, RegisterOutcome, RegisterRequest} from './store.js'

const REQUIRED_COLUMNS = ['id', 'name', 'host', 'port', 'protocol', 'is_active'] as const
const BUSY_TIMEOUT_MS = 10_000

interface Row {
  id: number
  name: string
  host: string
  port: number
  protocol: string
  is_active: number | bigint | boolean
}

export class SqliteEndpointStore implements EndpointStore {
  private readonly db: Database.Database
  private readonly table: string

  private constructor(
    readonly file: string,
    table: string,
  ) {
    this.table = `"${table}"`
    mkdirSync(dirname(file), {recursive: true})
    try {
      this.db = new Database(file, {timeout: BUSY_TIMEOUT_MS})
      this.db.pragma('journal_mode = WAL')
    } catch (error) {
      throw new RegistryError(`cannot open the registry ${file}: ${(error as Error).message}`, 'REGISTRY_OPEN', undefined, {cause: error})
    }
  }

  static open(file: string, table: string): SqliteEndpointStore {
    const store = new SqliteEndpointStore(file, table)
    try {
      store.ensureTable(table)
    } catch (error) {
      store.db.close()
      throw error
    }
    return store
  }

  private ensureTable(table: string): void {
    const columns = this.db.prepare(`PRAGMA table_info(${this.table})`).all() as {name: string}[]
    if (columns.length === 0) {
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (
        "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
        "name" varchar(100) NOT NULL,
        "host" varchar(255) NOT NULL,
        "port" integer NOT NULL,
        "protocol" varchar(10) NOT NULL DEFAULT 'grpc',
        "is_active" bool NOT NULL DEFAULT 1,
        UNIQUE ("host", "name"),
        UNIQUE ("host", "port")
      )`)
      return
    }
    const present = new Set(columns.map((column) => column.name))
    const missing = REQUIRED_COLUMNS.filter((column) => !present.has(column))
    if (missing.length > 0) {
      throw new RegistryError(
        `table ${table} in ${this.file} has no column ${missing.join(', ')}; a ServiceEndpoint table has ${REQUIRED_COLUMNS.join(', ')}`,
        'REGISTRY_SCHEMA',
        'point registry.table at the ServiceEndpoint table, or at a name that does not exist yet so qm creates it',
      )
    }
  }

  async list(host?: string): Promise<Endpoint[]> {
    const rows = host === undefined
      ? this.db.prepare(`SELECT * FROM ${this.table} ORDER BY host, port`).all()
      : this.db.prepare(`SELECT * FROM ${this.table} WHERE host = ? ORDER BY port`).all(host)
    return (rows as Row[]).map(toEndpoint)
  }

  async find(name: string, host: string): Promise<Endpoint | undefined> {
    const row = this.db.prepare(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(host, name) as Row | undefined
    return row && toEndpoint(row)
  }

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const run = this.db.transaction((): RegisterOutcome => {
      const existing = this.db.prepare(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(request.host, request.name) as Row | undefined
      if (existing) return reuseExisting(toEndpoint(existing), request)
      const port = request.port === undefined ? this.allocate(request) : this.claim(request, request.port)
      const result = this.db
        .prepare(`INSERT INTO ${this.table} (name, host, port, protocol, is_active) VALUES (?, ?, ?, 'grpc', ?)`)
        .run(request.name, request.host, port, request.active ? 1 : 0)
      const endpoint: Endpoint = {id: Number(result.lastInsertRowid), name: request.name, host: request.host, port, protocol: 'grpc', active: request.active}
      return {endpoint, created: true}
    })
    try {
      return run.immediate()
    } catch (error) {
      throw translate(error, request)
    }
  }

  private allocate(request: RegisterRequest): number {
    const rows = this.db.prepare(`SELECT port FROM ${this.table} WHERE host = ?`).all(request.host) as {port: number}[]
    const choice = pickPort(request.range, new Set(rows.map((row) => Number(row.port))), request.portInUse)
    if (choice.port === undefined) throw new NoFreePortError(request.range, request.host)
    return choice.port
  }

  private claim(request: RegisterRequest, port: number): number {
    const holder = this.db.prepare(`SELECT name FROM ${this.table} WHERE host = ? AND port = ?`).get(request.host, port) as {name: string} | undefined
    return claimPort(request, port, holder?.name)
  }

  async unregister(name: string, host: string): Promise<Endpoint> {
    const run = this.db.transaction((): Endpoint => {
      const row = this.db.prepare(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(host, name) as Row | undefined
      if (!row) throw new NotRegisteredError(name, host)
      this.db.prepare(`DELETE FROM ${this.table} WHERE id = ?`).run(row.id)
      return toEndpoint(row)
    })
    return run.immediate()
  }

  async setActive(name: string, host: string, active: boolean): Promise<void> {
    const result = this.db.prepare(`UPDATE ${this.table} SET is_active = ? WHERE host = ? AND name = ?`).run(active ? 1 : 0, host, name)
    if (result.changes === 0) throw new NotRegisteredError(name, host)
  }

  async close(): Promise<void> {
    this.db.close()
  }
}

function toEndpoint(row: Row): Endpoint {
  return {
    id: Number(row.id),
    name: row.name,
    host: row.host,
    port: Number(row.port),
    protocol: row.protocol,
    active: row.is_active === true || Number(row.is_active) === 1,
  }
}

// The unique indexes qm creates are the last line of defence; under BEGIN IMMEDIATE
// they should never fire, but a foreign writer outside qm could still race us.
function translate(error: unknown, request: RegisterRequest): unknown {
  const code = (error as {code?: string}).code
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new PortTakenError(`${request.name} could not be registered: another writer took the same name or port (host ${request.host})`, 'run the command again', )
  }
  if (code === 'SQLITE_BUSY') {
    return new RegistryError(`the registry is locked by another writer for more than ${BUSY_TIMEOUT_MS / 1000}s`, 'REGISTRY_BUSY', 'run the command again')
  }
  return error
}
