// One daemon per manifest. The lock is an exclusive SQLite transaction held for the
// daemon's life: SQLite takes a POSIX advisory lock on the file, which the kernel drops
// the moment the process dies, so a daemon killed with -9 leaves no stale lock behind
// and two daemons started at the same instant cannot both win.
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import {Database} from '../registry/sqlite-driver.js'

export class DaemonLock {
  private constructor(private readonly db: BetterSqlite3.Database) {}

  /** The lock, or undefined when another living daemon holds it. */
  static tryAcquire(file: string): DaemonLock | undefined {
    mkdirSync(dirname(file), {recursive: true})
    const db = new Database(file, {timeout: 0})
    try {
      db.pragma('locking_mode = EXCLUSIVE')
      db.exec('BEGIN EXCLUSIVE')
      return new DaemonLock(db)
    } catch (error) {
      db.close()
      if ((error as {code?: string}).code === 'SQLITE_BUSY') return undefined
      throw error
    }
  }

  release(): void {
    this.db.close()
  }
}
