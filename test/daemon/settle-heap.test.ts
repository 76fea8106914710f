// The daemon collects its garbage once a change to its services is over (src/daemon/settle-heap.ts).
import {readFileSync} from 'node:fs'
import {afterEach, describe, expect, test, vi} from 'vitest'
import {HeapSettler} from '../../src/daemon/settle-heap.js'
import {makeProject, service} from '../helpers/project.js'

describe('HeapSettler', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  test('collects once, when the last of several changes has been quiet for the pause', () => {
    vi.useFakeTimers()
    let collected = 0
    const settler = new HeapSettler(() => collected++, 1000)
    settler.changed()
    vi.advanceTimersByTime(600)
    settler.changed()
    settler.changed()
    vi.advanceTimersByTime(999)
    expect(collected).toBe(0)
    vi.advanceTimersByTime(1)
    expect(collected).toBe(1)
    vi.advanceTimersByTime(5000)
    expect(collected).toBe(1)
  })

  test('close() cancels a collection not yet made', () => {
    vi.useFakeTimers()
    let collected = 0
    const settler = new HeapSettler(() => collected++, 1000)
    settler.changed()
    settler.close()
    vi.advanceTimersByTime(5000)
    expect(collected).toBe(0)
  })

  test('its timer does not keep a process alive', () => {
    const settler = new HeapSettler(() => undefined, 60_000)
    settler.changed()
    expect((settler as unknown as {timer: NodeJS.Timeout}).timer.hasRef()).toBe(false)
    settler.close()
  })
})

test('the background daemon that qm start launches can collect (it runs with --expose-gc)', async () => {
  const project = await makeProject()
  project.writeManifest(service('echo', 'guide-call-server.mjs'))
  const started = await project.qm('start')
  expect(started.exitCode, started.stderr).toBe(0)
  const argv = readFileSync(`/proc/${project.daemonPid()}/cmdline`, 'utf8').split('\0')
  expect(argv).toContain('--expose-gc')
})
