import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {NameTakenError, NoFreePortError, NotRegisteredError, PortTakenError, RegistryError} from '../../src/errors.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import type {RegisterRequest} from '../../src/registry/store.js'
import {tempDir} from '../helpers/temp-dir.js'

const DJANGO_DDL = readFileSync(new URL('../fixtures/django/serviceendpoint-sqlite.sql', import.meta.url), 'utf8')
const RANGE = [50051, 50055] as const

function request(name: string, extra: Partial<RegisterRequest> = {}): RegisterRequest {
  return {name, host: 'localhost', active: true, range: RANGE, portInUse: () => undefined, ...extra}
}

function openStore(file: string) {
  return SqliteEndpointStore.open(file, 'core_serviceendpoint')
}

function schemaOf(file: string): string {
  const db = new Database(file, {readonly: true})
  try {
    return (db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'core_serviceendpoint'`).get() as {sql: string}).sql
  } finally {
    db.close()
  }
}

describe('SQLite ServiceEndpoint store', () => {
  it('creates the table with unique name and port per host when it is missing', async () => {
    const file = join(tempDir(), 'registry.sqlite3')
    const store = openStore(file)
    await store.close()
    const sql = schemaOf(file)
    expect(sql).toContain('UNIQUE ("host", "name")')
    expect(sql).toContain('UNIQUE ("host", "port")')
    const db = new Database(file, {readonly: true})
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    db.close()
  })

  it('hands out the lowest free port and is idempotent for a name it knows', async () => {
    const store = openStore(join(tempDir(), 'r.sqlite3'))
    try {
      const first = await store.register(request('ocr'))
      const second = await store.register(request('pdf_extractor'))
      const again = await store.register(request('ocr'))
      expect([first.endpoint.port, second.endpoint.port]).toEqual([50051, 50052])
      expect(first.created).toBe(true)
      expect(again).toEqual({endpoint: first.endpoint, created: false})
      expect(await store.list('localhost')).toHaveLength(2)
    } finally {
      await store.close()
    }
  })

  it('reuses the lowest hole after an unregister, and counts inactive rows as held', async () => {
    const store = openStore(join(tempDir(), 'r.sqlite3'))
    try {
      await store.register(request('a'))
      await store.register(request('b', {active: false}))
      await store.register(request('c'))
      await store.unregister('a', 'localhost')
      expect((await store.register(request('d'))).endpoint.port).toBe(50051)
      expect((await store.register(request('e'))).endpoint.port).toBe(50054)
    } finally {
      await store.close()
    }
  })

  it('skips a port something on the host uses, and refuses it when asked for by number', async () => {
    const store = openStore(join(tempDir(), 'r.sqlite3'))
    const portInUse = (port: number) => (port === 50051 ? 'listening by pid 7 (nc -l)' : undefined)
    try {
      expect((await store.register(request('a', {portInUse}))).endpoint.port).toBe(50052)
      const refusal = store.register(request('b', {portInUse, port: 50051}))
      await expect(refusal).rejects.toThrow(PortTakenError)
      await expect(refusal).rejects.toThrow('port 50051 is in use on this host: listening by pid 7 (nc -l)')
      expect((await store.list('localhost')).map((e) => e.name)).toEqual(['a'])
    } finally {
      await store.close()
    }
  })

  it('refuses an exhausted range, a taken port and a moved name, writing nothing', async () => {
    const store = openStore(join(tempDir(), 'r.sqlite3'))
    try {
      for (const name of ['a', 'b', 'c', 'd', 'e']) await store.register(request(name))
      const before = await store.list()
      await expect(store.register(request('f'))).rejects.toThrow(NoFreePortError)
      await expect(store.register(request('f'))).rejects.toThrow('no free port in 50051-50055 on host localhost')
      await expect(store.register(request('f', {port: 50053}))).rejects.toThrow('port 50053 is already registered to c (host localhost)')
      await expect(store.register(request('a', {port: 50054}))).rejects.toThrow(NameTakenError)
      await expect(store.unregister('zz', 'localhost')).rejects.toThrow(NotRegisteredError)
      expect(await store.list()).toEqual(before)
    } finally {
      await store.close()
    }
  })

  it('keeps hosts apart: the same port and name on two hosts', async () => {
    const store = openStore(join(tempDir(), 'r.sqlite3'))
    try {
      const here = await store.register(request('ocr', {host: 'node-1'}))
      const there = await store.register(request('ocr', {host: 'node-2'}))
      expect(here.endpoint.port).toBe(there.endpoint.port)
      expect(await store.list('node-1')).toHaveLength(1)
      expect(await store.list()).toHaveLength(2)
      await store.setActive('ocr', 'node-2', false)
      expect((await store.find('ocr', 'node-2'))?.active).toBe(false)
      expect((await store.find('ocr', 'node-1'))?.active).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('works on the table Django makes and leaves its schema untouched', async () => {
    const file = join(tempDir(), 'db.sqlite3')
    const db = new Database(file)
    db.exec(DJANGO_DDL)
    db.prepare(`INSERT INTO core_serviceendpoint (name, host, port, protocol, is_active) VALUES ('pdf_extractor', 'localhost', 50058, 'grpc', 1)`).run()
    db.close()
    const before = schemaOf(file)

    const store = openStore(file)
    try {
      expect(await store.find('pdf_extractor', 'localhost')).toMatchObject({port: 50058, active: true, protocol: 'grpc'})
      expect((await store.register(request('ocr'))).endpoint.port).toBe(50051)
      await store.setActive('ocr', 'localhost', false)
      expect((await store.find('ocr', 'localhost'))?.active).toBe(false)
      await store.unregister('ocr', 'localhost')
    } finally {
      await store.close()
    }
    expect(schemaOf(file)).toBe(before)
  })

  it('refuses a table that lacks a ServiceEndpoint column, naming it', async () => {
    const file = join(tempDir(), 'db.sqlite3')
    const db = new Database(file)
    db.exec(`CREATE TABLE core_serviceendpoint (id integer primary key, name text, host text, port integer)`)
    db.close()
    expect(() => openStore(file)).toThrow(RegistryError)
    expect(() => openStore(file)).toThrow(`table core_serviceendpoint in ${file} has no column protocol, is_active; a ServiceEndpoint table has id, name, host, port, protocol, is_active`)
  })
})
