import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import {tempDir} from '../helpers/temp-dir.js'
import {storeCases, type StoreBackend} from './store-cases.js'

const DJANGO_DDL = readFileSync(new URL('../fixtures/django/serviceendpoint-sqlite.sql', import.meta.url), 'utf8')

function withDatabase<T>(file: string, work: (db: Database.Database) => T): T {
  const db = new Database(file)
  try {
    return work(db)
  } finally {
    db.close()
  }
}

function schemaOf(file: string): string {
  return withDatabase(file, (db) => (db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'core_serviceendpoint'`).get() as {sql: string}).sql)
}

const sqlite: StoreBackend = {
  fresh: async () => join(tempDir(), 'registry.sqlite3'),
  open: async (file) => SqliteEndpointStore.open(file, 'core_serviceendpoint'),
  makeDjangoTable: async (file) =>
    withDatabase(file, (db) => {
      db.exec(DJANGO_DDL)
      db.prepare(`INSERT INTO core_serviceendpoint (name, host, port, protocol, is_active) VALUES ('pdf_extractor', 'localhost', 50058, 'grpc', 1)`).run()
    }),
  makeTableWithoutColumns: async (file) =>
    withDatabase(file, (db) => {
      db.exec(`CREATE TABLE core_serviceendpoint (id integer primary key, name text, host text, port integer)`)
    }),
  schema: async (file) => schemaOf(file),
  uniqueColumns: async (file) =>
    [...schemaOf(file).matchAll(/UNIQUE \(([^)]*)\)/g)].map((match) => match[1]!.split(',').map((column) => column.trim().replace(/"/g, '')).sort()),
  describe: (file) => file,
}

describe('SQLite ServiceEndpoint store', () => {
  storeCases(sqlite)

  it('keeps the file in WAL mode', async () => {
    const file = await sqlite.fresh()
    await (await sqlite.open(file)).close()
    withDatabase(file, (db) => expect(db.pragma('journal_mode', {simple: true})).toBe('wal'))
  })
})
