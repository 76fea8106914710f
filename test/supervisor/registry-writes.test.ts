// The daemon's is_active writes on a real SQLite registry: changes asked for together go
// in one batch, and every caller of that batch is answered in the same turn, so that forty
// stops send their forty SIGTERMs together rather than one turn of the event loop apart.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, expect, it} from 'vitest'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import type {EndpointStore} from '../../src/registry/store.js'
import {RegistryWrites} from '../../src/supervisor/registry-writes.js'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, {recursive: true, force: true})
})

/** A real store whose setActiveMany calls are recorded (the batches), with the order the callers were answered in. */
async function registryWith(names: string[], onBatch: (batch: number) => void = () => undefined): Promise<{store: EndpointStore; batches: string[][]}> {
  const folder = mkdtempSync(join(tmpdir(), 'qm-registry-writes-'))
  folders.push(folder)
  const store = SqliteEndpointStore.open(join(folder, 'registry.sqlite3'), 'core_serviceendpoint')
  for (const name of names) await store.register({name, host: 'localhost', active: true, range: [50051, 50090], portInUse: () => undefined})
  const batches: string[][] = []
  const setActiveMany = store.setActiveMany.bind(store)
  store.setActiveMany = (host, changes) => {
    batches.push([...changes.keys()])
    const written = setActiveMany(host, changes)
    onBatch(batches.length)
    return written
  }
  return {store, batches}
}

it('writes forty changes asked for in one turn as one batch, and answers every caller in the same turn', async () => {
  const names = Array.from({length: 40}, (_, i) => `s${i}`)
  const {store, batches} = await registryWith(names)
  const writes = new RegistryWrites(store, 'localhost', () => undefined)
  try {
    // Turns of the event loop, counted by an immediate that schedules itself once a turn.
    const answered: number[] = []
    let turn = 0
    let counting = true
    const count = () => {
      turn++
      if (counting) setImmediate(count)
    }
    setImmediate(count)
    try {
      await Promise.all(names.map((name) => writes.setActive(name, false).then(() => answered.push(turn))))
    } finally {
      counting = false
    }
    expect(batches).toEqual([names])
    expect(new Set(answered).size).toBe(1)
    expect((await store.list('localhost')).filter((row) => row.active)).toEqual([])
  } finally {
    await writes.close()
    await store.close()
  }
})

it('puts a change asked for while a batch is being written in the next batch, and keeps the last wish per name', async () => {
  let second: Promise<void>[] = []
  let writes: RegistryWrites | undefined
  const {store, batches} = await registryWith(['a', 'b'], (batch) => {
    // Asked for while the first batch is on its way to the database: b's last wish wins.
    if (batch === 1) second = [writes!.setActive('b', false), writes!.setActive('b', true)]
  })
  writes = new RegistryWrites(store, 'localhost', () => undefined)
  try {
    await writes.setActive('a', false)
    await Promise.all(second)
    expect(batches).toEqual([['a'], ['b']])
    const rows = new Map((await store.list('localhost')).map((row) => [row.name, row.active]))
    expect(rows).toEqual(new Map([['a', false], ['b', true]]))
  } finally {
    await writes.close()
    await store.close()
  }
})
