// The shared read of the socket table: every caller of one turn of the event loop waits for
// one read made on the next turn, and a read never answers a caller who asked after it began.
import {createServer, type AddressInfo} from 'node:net'
import {expect, it} from 'vitest'
import {ListenerSnapshots, SharedRead} from '../../src/net/listener-snapshots.js'

it('serves every caller of one turn with one read, and reads again for a caller of a later turn', async () => {
  let reads = 0
  const shared = new SharedRead(() => ++reads)
  const askedAt = performance.now()
  const first = await Promise.all(Array.from({length: 40}, () => shared.since(askedAt)))
  expect(first).toEqual(Array.from({length: 40}, () => 1))
  expect(shared.readSince(askedAt)).toBe(1)
  // Asked after that read began: it cannot answer, so there is a second read.
  const later = performance.now() + 0.001
  expect(shared.readSince(later)).toBeUndefined()
  expect(await shared.since(later)).toBe(2)
  expect(reads).toBe(2)
})

it('rejects every caller of a read that fails, and reads again for the next caller', async () => {
  let fail = true
  const shared = new SharedRead(() => {
    if (fail) throw new Error('no /proc/net/tcp')
    return 'read'
  })
  const asked = [shared.since(performance.now()), shared.since(performance.now())]
  await expect(Promise.all(asked)).rejects.toThrow('no /proc/net/tcp')
  fail = false
  expect(await shared.since(performance.now())).toBe('read')
})

it('shows a real listener among the listening ports, and no longer in a read made after it closed', async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const snapshots = new ListenerSnapshots()
  try {
    expect((await snapshots.portsSince(performance.now())).has(port)).toBe(true)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
  expect((await snapshots.portsSince(performance.now())).has(port)).toBe(false)
})
