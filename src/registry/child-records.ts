// The daemon's memory that outlives it: each child's pid, process start time, port,
// state and restart count, and every state change with its cause. A daemon started
// after a crash reads these to adopt living services instead of starting second copies,
// and `qm status` reads them when no daemon answers.
import {mkdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import {Database} from './sqlite-driver.js'
import {QmError, RegistryError} from '../errors.js'
import {PreparedStatements} from './statements.js'

export interface ChildRecord {
  name: string
  service: string
  pid: number | null
  startTime: number | null
  port: number | null
  state: string
  restarts: number
  lastExitCode: number | null
  lastExitSignal: string | null
  /** Wall-clock ms of the last state change. */
  stateSinceMs: number
  /** Wall-clock ms at which the current process started. */
  startedAtMs: number | null
  fingerprint: string | null
  /** Whether qm created the registry row, so it may remove it when the service goes. */
  registeredByQm: boolean
  detail: string | null
  /** Its last process answered UNIMPLEMENTED to grpc.health.v1 (an `auto` probe then sends the Call beside the Check). */
  noHealthService?: boolean
}

export interface TransitionRecord {
  atMs: number
  name: string
  from: string
  to: string
  cause: string
  pid: number | null
  startTime: number | null
}

const KEPT_TRANSITIONS = 2000

/** qm's own state file cannot be read as a database: random bytes, a torn copy, another file. */
export class StateFileDamaged extends QmError {
  constructor(readonly file: string, reason: string, options?: ErrorOptions) {
    super(
      `qm's state file ${file} is damaged: ${reason}`,
      1,
      'STATE_DAMAGED',
      'qm start moves it aside and rebuilds the records from the running processes and the registry; the services go on running meanwhile',
      options,
    )
  }
}

function isDamage(error: unknown): boolean {
  const code = (error as {code?: unknown}).code
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
}

export function childRecordsPath(manifest: {stateDir: string}): string {
  return join(manifest.stateDir, 'state.sqlite3')
}

export class ChildRecords {
  private readonly db: BetterSqlite3.Database
  private readonly statements: PreparedStatements
  private readonly moveInOneCommit: (record: ChildRecord, transition: TransitionRecord) => void

  private constructor(readonly file: string, readonly: boolean) {
    if (!readonly) mkdirSync(dirname(file), {recursive: true})
    try {
      this.db = new Database(file, {timeout: 5000, readonly, fileMustExist: readonly})
    } catch (error) {
      throw new RegistryError(`cannot open qm's state file ${file}: ${(error as Error).message}`, 'STATE_OPEN', undefined, {cause: error})
    }
    this.statements = new PreparedStatements(this.db)
    this.moveInOneCommit = this.db.transaction((record: ChildRecord, transition: TransitionRecord) => {
      this.save(record)
      this.addTransition(transition)
    })
  }

  /** Opens, or creates, the state file for writing; throws StateFileDamaged when it is not a database. */
  static open(file: string): ChildRecords {
    const records = new ChildRecords(file, false)
    try {
      records.init()
    } catch (error) {
      records.db.close()
      if (isDamage(error)) throw new StateFileDamaged(file, (error as Error).message, {cause: error})
      throw error
    }
    return records
  }

  private init(): void {
    const records = this
    records.db.pragma('journal_mode = WAL')
    records.db.pragma('synchronous = NORMAL')
    records.db.exec(`
      CREATE TABLE IF NOT EXISTS children (
        name TEXT PRIMARY KEY, service TEXT NOT NULL, pid INTEGER, start_time INTEGER, port INTEGER,
        state TEXT NOT NULL, restarts INTEGER NOT NULL DEFAULT 0, last_exit_code INTEGER, last_exit_signal TEXT,
        state_since_ms INTEGER NOT NULL, started_at_ms INTEGER, fingerprint TEXT,
        registered_by_qm INTEGER NOT NULL DEFAULT 0, detail TEXT);
      CREATE TABLE IF NOT EXISTS transitions (
        id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, name TEXT NOT NULL, from_state TEXT NOT NULL,
        to_state TEXT NOT NULL, cause TEXT NOT NULL, pid INTEGER, start_time INTEGER);
    `)
    // A state file of an earlier qm: the column is added, every row false until probed.
    const columns = (records.db.prepare('PRAGMA table_info(children)').all() as {name: string}[]).map((column) => column.name)
    if (!columns.includes('no_health_service')) records.db.exec('ALTER TABLE children ADD COLUMN no_health_service INTEGER NOT NULL DEFAULT 0')
    // A page damaged beyond the header shows only when it is read.
    records.db.prepare('SELECT count(*) FROM children').get()
  }

  /** For `qm status` without a daemon: undefined when qm never ran here. */
  static openReadOnly(file: string): ChildRecords | undefined {
    let records: ChildRecords
    try {
      records = new ChildRecords(file, true)
    } catch {
      return undefined // no state file yet: nothing was ever started from this manifest
    }
    try {
      // A daemon that has just created the file may not have created its tables yet.
      if (!records.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'children'`).get()) {
        records.close()
        return undefined
      }
      records.db.prepare('SELECT count(*) FROM children').get()
    } catch (error) {
      records.close()
      if (isDamage(error)) throw new StateFileDamaged(file, (error as Error).message, {cause: error})
      throw error
    }
    return records
  }

  all(): ChildRecord[] {
    return (this.statements.get('SELECT * FROM children ORDER BY name').all() as Row[]).map(fromRow)
  }

  get(name: string): ChildRecord | undefined {
    const row = this.statements.get('SELECT * FROM children WHERE name = ?').get(name) as Row | undefined
    return row && fromRow(row)
  }

  save(record: ChildRecord): void {
    this.statements
      .get(
        `INSERT INTO children (name, service, pid, start_time, port, state, restarts, last_exit_code, last_exit_signal,
           state_since_ms, started_at_ms, fingerprint, registered_by_qm, detail, no_health_service)
         VALUES (@name, @service, @pid, @startTime, @port, @state, @restarts, @lastExitCode, @lastExitSignal,
           @stateSinceMs, @startedAtMs, @fingerprint, @registeredByQm, @detail, @noHealthService)
         ON CONFLICT(name) DO UPDATE SET service = excluded.service, pid = excluded.pid, start_time = excluded.start_time,
           port = excluded.port, state = excluded.state, restarts = excluded.restarts, last_exit_code = excluded.last_exit_code,
           last_exit_signal = excluded.last_exit_signal, state_since_ms = excluded.state_since_ms,
           started_at_ms = excluded.started_at_ms, fingerprint = excluded.fingerprint,
           registered_by_qm = excluded.registered_by_qm, detail = excluded.detail, no_health_service = excluded.no_health_service`,
      )
      .run({...record, registeredByQm: record.registeredByQm ? 1 : 0, noHealthService: record.noHealthService ? 1 : 0})
  }

  /** A state change: the record as it is now and the transition to it, in one commit rather than two. */
  saveMove(record: ChildRecord, transition: TransitionRecord): void {
    this.moveInOneCommit(record, transition)
  }

  remove(name: string): void {
    this.statements.get('DELETE FROM children WHERE name = ?').run(name)
  }

  addTransition(transition: TransitionRecord): void {
    const insert = this.statements.get(
      'INSERT INTO transitions (at_ms, name, from_state, to_state, cause, pid, start_time) VALUES (@atMs, @name, @from, @to, @cause, @pid, @startTime)',
    )
    const result = insert.run(transition)
    // Trim now and then rather than on every write.
    if (Number(result.lastInsertRowid) % 200 === 0) {
      this.statements.get('DELETE FROM transitions WHERE id <= ?').run(Number(result.lastInsertRowid) - KEPT_TRANSITIONS)
    }
  }

  transitions(name: string, limit = 20): TransitionRecord[] {
    const rows = this.statements
      .get('SELECT at_ms, name, from_state, to_state, cause, pid, start_time FROM transitions WHERE name = ? ORDER BY id DESC LIMIT ?')
      .all(name, limit) as {at_ms: number; name: string; from_state: string; to_state: string; cause: string; pid: number | null; start_time: number | null}[]
    return rows.reverse().map((r) => ({atMs: r.at_ms, name: r.name, from: r.from_state, to: r.to_state, cause: r.cause, pid: r.pid, startTime: r.start_time}))
  }

  /** Every kept transition at or after sinceMs, oldest first. */
  transitionsSince(sinceMs: number): TransitionRecord[] {
    const rows = this.statements
      .get('SELECT at_ms, name, from_state, to_state, cause, pid, start_time FROM transitions WHERE at_ms >= ? ORDER BY id')
      .all(sinceMs) as {at_ms: number; name: string; from_state: string; to_state: string; cause: string; pid: number | null; start_time: number | null}[]
    return rows.map((r) => ({atMs: r.at_ms, name: r.name, from: r.from_state, to: r.to_state, cause: r.cause, pid: r.pid, startTime: r.start_time}))
  }

  close(): void {
    this.db.close()
  }
}

interface Row {
  name: string
  service: string
  pid: number | null
  start_time: number | null
  port: number | null
  state: string
  restarts: number
  last_exit_code: number | null
  last_exit_signal: string | null
  state_since_ms: number
  started_at_ms: number | null
  fingerprint: string | null
  registered_by_qm: number
  detail: string | null
  /** Absent from a state file of an earlier qm read without writing (qm status with no daemon). */
  no_health_service?: number
}

function fromRow(row: Row): ChildRecord {
  return {
    name: row.name,
    service: row.service,
    pid: row.pid,
    startTime: row.start_time,
    port: row.port,
    state: row.state,
    restarts: row.restarts,
    lastExitCode: row.last_exit_code,
    lastExitSignal: row.last_exit_signal,
    stateSinceMs: row.state_since_ms,
    startedAtMs: row.started_at_ms,
    fingerprint: row.fingerprint,
    registeredByQm: row.registered_by_qm === 1,
    detail: row.detail,
    noHealthService: row.no_health_service === 1,
  }
}
