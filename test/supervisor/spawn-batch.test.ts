// The services of one start are all spawned before any of them is probed.
import {describe, expect, it} from 'vitest'
import {SpawnBatch} from '../../src/supervisor/spawn-batch.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('a batch of spawns', () => {
  it('holds the probes until the start has launched every service and each has spawned', async () => {
    const batch = new SpawnBatch()
    batch.open()
    const first = batch.spawning()
    let probing = false
    void batch.settled().then(() => (probing = true))
    first()
    await tick()
    expect(probing).toBe(false) // still launching the others
    const second = batch.spawning()
    batch.close()
    await tick()
    expect(probing).toBe(false) // the last one is still spawning
    second()
    await tick()
    expect(probing).toBe(true)
  })

  it('lets a restart outside a start probe at once, and counts a spawn once however often it says so', async () => {
    const batch = new SpawnBatch()
    await expect(batch.settled()).resolves.toBeUndefined()
    const done = batch.spawning()
    done()
    done()
    const other = batch.spawning()
    let settled = false
    void batch.settled().then(() => (settled = true))
    await tick()
    expect(settled).toBe(false)
    other()
    await tick()
    expect(settled).toBe(true)
  })
})
