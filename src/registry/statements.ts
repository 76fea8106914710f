// better-sqlite3's prepare() parses and plans its SQL every time it is called. The daemon
// writes its records on every state change (some 160 statements for a start of 40
// services), so each store keeps its statements, keyed by their text.
import type Database from 'better-sqlite3'

export class PreparedStatements {
  private readonly kept = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.kept.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.kept.set(sql, statement)
    }
    return statement
  }
}
