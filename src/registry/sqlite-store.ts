// The embedded registry: the seed's ServiceEndpoint table in an SQLite file. The
// table is created when missing and never altered when it exists, so qm can share
// the file Django made. Allocation runs inside BEGIN IMMEDIATE, which takes the write
// lock before the read, so concurrent `qm register` runs are serialised even on a
// Django table that has no unique constraints.
//
// better-sqlite3 is synchronous, and the file may be the platform's own db.sqlite3, which
// Django locks while it writes. SQLite's busy handler would wait for such a lock inside
// the caller's event loop, which in the daemon stops all supervision. So after opening,
// every statement runs with no busy wait at all, and a locked file is retried on timers
// (a few milliseconds apart at first, then every 100 ms) until lockWaitMs has passed:
// the waiting happens between statements, never inside one.
import {existsSync, mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type BetterSqlite3 from 'better-sqlite3'
import {Database} from './sqlite-driver.js'
import {NoFreePortError, NotRegisteredError, PortTakenError, RegistryError, RowMovedError} from '../errors.js'
import {claimPort, pickPort, reuseExisting} from './allocation.js'
import type {Endpoint, EndpointStore, MoveRequest, RegisterOutcome, RegisterRequest, SeenRow} from './store.js'
import {PreparedStatements} from './statements.js'

const REQUIRED_COLUMNS = ['id', 'name', 'host', 'port', 'protocol', 'is_active'] as const
export const LOCK_WAIT_MS = 10_000
const RETRY_DELAYS_MS = [2, 5, 10, 25, 50, 100]

interface Row {
  id: number
  name: string
  host: string
  port: number
  protocol: string
  is_active: number | bigint | boolean
}


export interface SqliteStoreOptions {
  /** How long a statement waits, on timers, for a lock another process holds. */
  lockWaitMs?: number
}

export class SqliteEndpointStore implements EndpointStore {
  private readonly db: BetterSqlite3.Database
  private readonly statements: PreparedStatements
  private readonly table: string
  private readonly lockWaitMs: number

  private constructor(
    readonly file: string,
    private readonly tableName: string,
    options: SqliteStoreOptions,
  ) {
    this.table = `"${tableName}"`
    this.lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS
    mkdirSync(dirname(file), {recursive: true})
    const created = !existsSync(file)
    try {
      // The first contact may block, once: the table must be known before anything else runs.
      this.db = new Database(file, {timeout: this.lockWaitMs})
      // WAL only for a file qm makes: a journal mode is a property of the file, and the
      // platform's database is not qm's to change.
      if (created) this.db.pragma('journal_mode = WAL')
    } catch (error) {
      throw this.translate(error, `cannot open the registry ${file}`)
    }
    this.statements = new PreparedStatements(this.db)
  }

  static open(file: string, table: string, options: SqliteStoreOptions = {}): SqliteEndpointStore {
    const store = new SqliteEndpointStore(file, table, options)
    try {
      store.ensureTable()
      store.db.pragma('busy_timeout = 0')
    } catch (error) {
      store.db.close()
      throw store.translate(error, `cannot read the registry ${file}`)
    }
    return store
  }

  private ensureTable(): void {
    const columns = this.columns()
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
        `table ${this.tableName} in ${this.file} has no column ${missing.join(', ')}; a ServiceEndpoint table has ${REQUIRED_COLUMNS.join(', ')}`,
        'REGISTRY_SCHEMA',
        'point registry.table at the ServiceEndpoint table, or at a name that does not exist yet so qm creates it',
      )
    }
  }

  private columns(): {name: string}[] {
    return this.statements.get(`PRAGMA table_info(${this.table})`).all() as {name: string}[]
  }

  async checkInsert(host: string): Promise<void> {
    await this.run('insert a row', () => {
      this.db.exec('BEGIN IMMEDIATE')
      try {
        this.statements.get(`INSERT INTO ${this.table} (name, host, port, protocol, is_active) VALUES (?, ?, ?, 'grpc', 0)`).run('qm-doctor-check', host, 0)
      } finally {
        this.db.exec('ROLLBACK')
      }
    })
  }

  async list(host?: string): Promise<Endpoint[]> {
    const rows = await this.run('read the table', () =>
      host === undefined
        ? this.statements.get(`SELECT * FROM ${this.table} ORDER BY host, port`).all()
        : this.statements.get(`SELECT * FROM ${this.table} WHERE host = ? ORDER BY port`).all(host),
    )
    return (rows as Row[]).map(toEndpoint)
  }

  async find(name: string, host: string): Promise<Endpoint | undefined> {
    const row = await this.run('read the table', () => this.statements.get(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(host, name) as Row | undefined)
    return row && toEndpoint(row)
  }

  async register(request: RegisterRequest): Promise<RegisterOutcome> {
    const transaction = this.db.transaction((): RegisterOutcome => {
      const existing = this.statements.get(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(request.host, request.name) as Row | undefined
      if (existing) return reuseExisting(toEndpoint(existing), request)
      const port = request.port === undefined ? this.allocate(request) : this.claim(request, request.port)
      const result = this.statements
        .get(`INSERT INTO ${this.table} (name, host, port, protocol, is_active) VALUES (?, ?, ?, 'grpc', ?)`)
        .run(request.name, request.host, port, request.active ? 1 : 0)
      const endpoint: Endpoint = {id: Number(result.lastInsertRowid), name: request.name, host: request.host, port, protocol: 'grpc', active: request.active}
      return {endpoint, created: true}
    })
    return this.run(`register ${request.name}`, () => transaction.immediate(), (error) => {
      if ((error as {code?: string}).code !== 'SQLITE_CONSTRAINT_UNIQUE') return undefined
      // The unique indexes qm creates are the last line of defence; under BEGIN IMMEDIATE
      // they should never fire, but a foreign writer outside qm could still race us.
      return new PortTakenError(`${request.name} could not be registered: another writer took the same name or port (host ${request.host})`, 'run the command again')
    })
  }

  private allocate(request: RegisterRequest): number {
    const rows = this.statements.get(`SELECT port FROM ${this.table} WHERE host = ?`).all(request.host) as {port: number}[]
    const choice = pickPort(request.range, new Set(rows.map((row) => Number(row.port))), request.portInUse)
    if (choice.port === undefined) throw new NoFreePortError(request.range, request.host)
    return choice.port
  }

  private claim(request: RegisterRequest, port: number): number {
    const holder = this.statements.get(`SELECT name FROM ${this.table} WHERE host = ? AND port = ?`).get(request.host, port) as {name: string} | undefined
    return claimPort(request, port, holder?.name)
  }

  async unregister(name: string, host: string): Promise<Endpoint> {
    const transaction = this.db.transaction((): Endpoint => {
      const row = this.statements.get(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(host, name) as Row | undefined
      if (!row) throw new NotRegisteredError(name, host)
      this.statements.get(`DELETE FROM ${this.table} WHERE id = ?`).run(row.id)
      return toEndpoint(row)
    })
    return this.run(`unregister ${name}`, () => transaction.immediate())
  }

  async setActive(name: string, host: string, active: boolean): Promise<void> {
    if ((await this.setActiveMany(host, new Map([[name, active]]))).length > 0) throw new NotRegisteredError(name, host)
  }

  async setActiveMany(host: string, changes: ReadonlyMap<string, boolean>): Promise<string[]> {
    return this.run(describeMarks(changes), () => {
      const update = this.statements.get(`UPDATE ${this.table} SET is_active = ? WHERE host = ? AND name = ?`)
      const transaction = this.db.transaction((): string[] => [...changes].filter(([name, active]) => update.run(active ? 1 : 0, host, name).changes === 0).map(([name]) => name))
      return transaction.immediate()
    })
  }

  async deactivateIfUnchanged(seen: SeenRow): Promise<boolean> {
    const result = await this.run(`mark ${seen.name} inactive`, () =>
      this.statements.get(`UPDATE ${this.table} SET is_active = 0 WHERE id = ? AND name = ? AND host = ? AND port = ? AND is_active`).run(seen.id, seen.name, seen.host, seen.port),
    )
    return result.changes > 0
  }

  async move(request: MoveRequest): Promise<Endpoint> {
    const transaction = this.db.transaction((): Endpoint => {
      const row = this.statements.get(`SELECT * FROM ${this.table} WHERE host = ? AND name = ?`).get(request.host, request.name) as Row | undefined
      if (!row || Number(row.port) !== request.fromPort) throw new RowMovedError(request.name, request.host, request.fromPort, row && Number(row.port))
      if (request.releasing !== undefined) this.statements.get(`DELETE FROM ${this.table} WHERE host = ? AND name = ? AND port = ?`).run(request.host, request.releasing, request.toPort)
      this.statements.get(`UPDATE ${this.table} SET port = ? WHERE id = ?`).run(request.toPort, row.id)
      return {...toEndpoint(row), port: request.toPort}
    })
    return this.run(`move ${request.name} to port ${request.toPort}`, () => transaction.immediate())
  }

  async close(): Promise<void> {
    this.db.close()
  }

  /**
   * Runs one statement or transaction; while another process holds the lock, tries again on
   * timers until lockWaitMs has passed. Every other SQLite error becomes a RegistryError.
   */
  private async run<T>(what: string, statement: () => T, special?: (error: unknown) => Error | undefined): Promise<T> {
    const deadline = performance.now() + this.lockWaitMs
    for (let attempt = 0; ; attempt++) {
      try {
        return statement()
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw special?.(error) ?? this.translate(error, `cannot ${what} in ${this.file}`)
      }
      await sleep(Math.min(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!, Math.max(1, deadline - performance.now())))
    }
  }

  /** A QmError for an SQLite error: what qm tried, on which table and column, and what to do. */
  private translate(error: unknown, doing: string): unknown {
    if (error instanceof RegistryError || !(error instanceof Database.SqliteError)) return error
    const code = error.code
    const table = `table ${this.tableName}`
    if (isBusy(error)) {
      return new RegistryError(
        `${doing}: the file is locked by another process for more than ${this.lockWaitMs / 1000} s`,
        'REGISTRY_BUSY',
        'another program (the platform, a migration, an open sqlite3 shell) holds a write transaction on the file; let it finish, then run the command again',
        {cause: error},
      )
    }
    if (code === 'SQLITE_CONSTRAINT_NOTNULL') {
      const column = /NOT NULL constraint failed: (?:[^.]+\.)?(\S+)/.exec(error.message)?.[1] ?? 'a column'
      return new RegistryError(
        `${doing}: ${table} has a column ${column} that must not be NULL and has no default, and qm writes only ${REQUIRED_COLUMNS.join(', ')}`,
        'REGISTRY_SCHEMA',
        `give ${column} a default in the platform's migration (or let it be NULL), so rows without it can be written`,
        {cause: error},
      )
    }
    if (code.startsWith('SQLITE_CONSTRAINT')) {
      return new RegistryError(`${doing}: ${table} refused the row: ${error.message}`, 'REGISTRY_SCHEMA', 'the table has a constraint beyond the ServiceEndpoint columns; qm doctor shows what qm cannot fill', {cause: error})
    }
    if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
      return new RegistryError(`${doing}: ${error.message}`, 'REGISTRY_ACCESS', `check that this user may read and write ${this.file} and its folder`, {cause: error})
    }
    if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
      return new RegistryError(`${doing}: ${error.message}`, 'REGISTRY_CORRUPT', `${this.file} is not a readable SQLite database; restore it from a backup, or point registry.path elsewhere`, {cause: error})
    }
    return new RegistryError(`${doing} (${table}): ${error.message}`, 'REGISTRY_SQLITE', 'qm doctor checks the registry and its table', {cause: error})
  }
}

/** "mark ocr inactive", or "mark ocr, ner and 38 more inactive, ledger active" for a batch. */
function describeMarks(changes: ReadonlyMap<string, boolean>): string {
  const names = (active: boolean) => {
    const matching = [...changes].filter(([, value]) => value === active).map(([name]) => name)
    if (matching.length === 0) return undefined
    const shown = matching.length <= 3 ? matching.join(', ') : `${matching.slice(0, 2).join(', ')} and ${matching.length - 2} more`
    return `${shown} ${active ? 'active' : 'inactive'}`
  }
  return `mark ${[names(false), names(true)].filter(Boolean).join(', ')}`
}

function isBusy(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
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
