// The registry's rules as one set of cases, run against each store (SQLite and PostgreSQL):
// the rest of qm cannot tell which store it talks to, so neither may these tests.
import {expect, it} from 'vitest'
import {NameTakenError, NoFreePortError, NotRegisteredError, PortTakenError, RegistryError} from '../../src/errors.js'
import type {EndpointStore, RegisterRequest} from '../../src/registry/store.js'

export const RANGE = [50051, 50055] as const

export function request(name: string, extra: Partial<RegisterRequest> = {}): RegisterRequest {
  return {name, host: 'localhost', active: true, range: RANGE, portInUse: () => undefined, ...extra}
}

/** One kind of registry, as the cases need it; `registry` is an SQLite file or a database name. */
export interface StoreBackend {
  /** A new registry with nothing in it. */
  fresh(): Promise<string>
  open(registry: string): Promise<EndpointStore>
  /** Runs the DDL Django's migrations emit and adds the guide's row (pdf_extractor on 50058). */
  makeDjangoTable(registry: string): Promise<void>
  /** A core_serviceendpoint table with id, name, host and port only. */
  makeTableWithoutColumns(registry: string): Promise<void>
  /** Everything about the table's definition, to compare before and after. */
  schema(registry: string): Promise<string>
  /** The column lists of the table's unique constraints, each sorted. */
  uniqueColumns(registry: string): Promise<string[][]>
  /** Where the error message says the table is. */
  describe(registry: string): string
}

async function using<T>(store: EndpointStore, work: (store: EndpointStore) => Promise<T>): Promise<T> {
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

export function storeCases(backend: StoreBackend): void {
  it('creates the table with unique name and port per host when it is missing', async () => {
    const registry = await backend.fresh()
    await (await backend.open(registry)).close()
    expect((await backend.uniqueColumns(registry)).sort()).toEqual([
      ['host', 'name'],
      ['host', 'port'],
    ])
  })

  it('hands out the lowest free port and is idempotent for a name it knows', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      const first = await store.register(request('ocr'))
      const second = await store.register(request('pdf_extractor'))
      const again = await store.register(request('ocr'))
      expect([first.endpoint.port, second.endpoint.port]).toEqual([50051, 50052])
      expect(first.created).toBe(true)
      expect(again).toEqual({endpoint: first.endpoint, created: false})
      expect(await store.list('localhost')).toHaveLength(2)
    })
  })

  it('reuses the lowest hole after an unregister, and counts inactive rows as held', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      await store.register(request('a'))
      await store.register(request('b', {active: false}))
      await store.register(request('c'))
      expect(await store.unregister('a', 'localhost')).toMatchObject({name: 'a', port: 50051, host: 'localhost'})
      expect(await store.find('a', 'localhost')).toBeUndefined()
      expect((await store.register(request('d'))).endpoint.port).toBe(50051)
      expect((await store.register(request('e'))).endpoint.port).toBe(50054)
    })
  })

  it('skips a port something on the host uses, and refuses it when asked for by number', async () => {
    const portInUse = (port: number) => (port === 50051 ? 'listening by pid 7 (nc -l)' : undefined)
    await using(await backend.open(await backend.fresh()), async (store) => {
      expect((await store.register(request('a', {portInUse}))).endpoint.port).toBe(50052)
      const refusal = store.register(request('b', {portInUse, port: 50051}))
      await expect(refusal).rejects.toThrow(PortTakenError)
      await expect(refusal).rejects.toThrow('port 50051 is in use on this host: listening by pid 7 (nc -l)')
      expect((await store.list('localhost')).map((e) => e.name)).toEqual(['a'])
    })
  })

  it('refuses an exhausted range, a taken port and a moved name, writing nothing', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      for (const name of ['a', 'b', 'c', 'd', 'e']) await store.register(request(name))
      const before = await store.list()
      await expect(store.register(request('f'))).rejects.toThrow(NoFreePortError)
      await expect(store.register(request('f'))).rejects.toThrow('no free port in 50051-50055 on host localhost')
      await expect(store.register(request('f', {port: 50053}))).rejects.toThrow('port 50053 is already registered to c (host localhost)')
      await expect(store.register(request('a', {port: 50054}))).rejects.toThrow(NameTakenError)
      await expect(store.unregister('zz', 'localhost')).rejects.toThrow(NotRegisteredError)
      await expect(store.setActive('zz', 'localhost', false)).rejects.toThrow(NotRegisteredError)
      expect(await store.list()).toEqual(before)
    })
  })

  it('keeps hosts apart: the same port and name on two hosts', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      const here = await store.register(request('ocr', {host: 'node-1'}))
      const there = await store.register(request('ocr', {host: 'node-2'}))
      expect(here.endpoint.port).toBe(there.endpoint.port)
      expect(await store.list('node-1')).toHaveLength(1)
      expect((await store.list()).map((e) => e.host)).toEqual(['node-1', 'node-2'])
      await store.setActive('ocr', 'node-2', false)
      expect((await store.find('ocr', 'node-2'))?.active).toBe(false)
      expect((await store.find('ocr', 'node-1'))?.active).toBe(true)
      await store.unregister('ocr', 'node-1')
      expect(await store.find('ocr', 'node-2')).toMatchObject({port: there.endpoint.port})
    })
  })

  it('marks many rows of one host in one call, says which names have no row, and leaves other hosts alone', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      for (const name of ['a', 'b', 'c']) await store.register(request(name))
      await store.register(request('a', {host: 'node-2'}))
      const missing = await store.setActiveMany('localhost', new Map([['a', false], ['b', false], ['c', true], ['gone', false]]))
      expect(missing).toEqual(['gone'])
      expect((await store.list('localhost')).map((e) => [e.name, e.active])).toEqual([['a', false], ['b', false], ['c', true]])
      expect((await store.find('a', 'node-2'))?.active).toBe(true)
      expect(await store.find('gone', 'localhost')).toBeUndefined()
    })
  })

  it('marks a row inactive only while it is still active with the host and port it was seen with', async () => {
    await using(await backend.open(await backend.fresh()), async (store) => {
      const seen = (await store.register(request('ocr', {host: 'node-1'}))).endpoint
      const other = (await store.register(request('ocr', {host: 'node-2'}))).endpoint
      // Another writer moves the row meanwhile: the old sighting no longer matches it.
      const moved = await store.move({name: 'ocr', host: 'node-1', fromPort: seen.port, toPort: seen.port + 1})
      expect(await store.deactivateIfUnchanged(seen)).toBe(false)
      expect(await store.find('ocr', 'node-1')).toEqual({...moved, active: true})
      expect(await store.deactivateIfUnchanged(moved)).toBe(true)
      expect((await store.find('ocr', 'node-1'))?.active).toBe(false)
      // Already inactive: nothing to do, and said so.
      expect(await store.deactivateIfUnchanged(moved)).toBe(false)
      expect(await store.find('ocr', 'node-2')).toEqual(other)
    })
  })

  it('works on the table Django makes and leaves its schema untouched', async () => {
    const registry = await backend.fresh()
    await backend.makeDjangoTable(registry)
    const before = await backend.schema(registry)
    await using(await backend.open(registry), async (store) => {
      expect(await store.find('pdf_extractor', 'localhost')).toMatchObject({port: 50058, active: true, protocol: 'grpc'})
      expect((await store.register(request('ocr'))).endpoint).toMatchObject({port: 50051, protocol: 'grpc', active: true})
      await store.setActive('ocr', 'localhost', false)
      expect((await store.find('ocr', 'localhost'))?.active).toBe(false)
      const guide = (await store.find('pdf_extractor', 'localhost'))!
      expect(await store.deactivateIfUnchanged(guide)).toBe(true)
      expect((await store.find('pdf_extractor', 'localhost'))?.active).toBe(false)
      await store.unregister('ocr', 'localhost')
    })
    expect(await backend.schema(registry)).toBe(before)
    expect(await backend.uniqueColumns(registry)).toEqual([])
  })

  it('gives 20 concurrent registrations 20 distinct ports on the Django table, which has no unique constraint', async () => {
    const registry = await backend.fresh()
    await backend.makeDjangoTable(registry)
    const range = [50051, 50090] as const
    // A store each, as 20 processes would have: separate connections racing for the same rows.
    const stores = await Promise.all(Array.from({length: 20}, () => backend.open(registry)))
    try {
      const outcomes = await Promise.all(stores.map((store, i) => store.register(request(`svc_${i}`, {range}))))
      const ports = outcomes.map((outcome) => outcome.endpoint.port)
      expect(new Set(ports).size).toBe(20)
      expect(ports).not.toContain(50058)
      expect(Math.max(...ports)).toBe(50051 + 20) // 20 ports and the guide's 50058, from the bottom up
    } finally {
      await Promise.all(stores.map((store) => store.close()))
    }
  })

  it('refuses a table that lacks a ServiceEndpoint column, naming it', async () => {
    const registry = await backend.fresh()
    await backend.makeTableWithoutColumns(registry)
    const opening = backend.open(registry)
    await expect(opening).rejects.toThrow(RegistryError)
    await expect(opening).rejects.toThrow(
      `table core_serviceendpoint in ${backend.describe(registry)} has no column protocol, is_active; a ServiceEndpoint table has id, name, host, port, protocol, is_active`,
    )
    await expect(opening).rejects.toMatchObject({code: 'REGISTRY_SCHEMA', exitCode: 1})
  })
}
