// The check and the marking in-process, on a registry another writer changes between the
// two: a row that moved, one registered again and one already marked are left alone and
// reported, and only the row still as it was probed is marked.
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {checkFleet} from '../../src/fleet/check.js'
import {markStale} from '../../src/fleet/mark.js'
import {loadManifest} from '../../src/manifest/load.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import {makeProject, service} from '../helpers/project.js'

it('marks only the stale rows still as they were probed, and says why it left the others alone', async () => {
  const project = await makeProject()
  project.writeManifest(service('echo', 'guide-call-server.mjs'))
  const [first] = project.portRange
  // Nothing listens on these: each is active and stale.
  for (const [name, port] of [['kept', first + 30], ['moved', first + 31], ['again', first + 32], ['marked', first + 33]] as const) {
    expect((await project.qm('register', name, '--port', String(port))).exitCode).toBe(0)
  }
  const manifest = await loadManifest({flag: join(project.dir, 'services.yaml'), env: {}, cwd: project.dir, cached: false})
  const check = await checkFleet(manifest, {allHosts: true, timeoutMs: 1000, cwd: project.dir})
  expect(check.rows.map((row) => [row.endpoint.name, row.verdict])).toEqual([
    ['kept', 'stale'],
    ['moved', 'stale'],
    ['again', 'stale'],
    ['marked', 'stale'],
  ])

  // Meanwhile, another writer:
  const store = SqliteEndpointStore.open(join(project.dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
  await store.move({name: 'moved', host: 'localhost', fromPort: first + 31, toPort: first + 35})
  await store.unregister('again', 'localhost')
  await store.register({name: 'again', host: 'localhost', port: first + 32, active: true, range: project.portRange, portInUse: () => undefined})
  await store.setActive('marked', 'localhost', false)
  const before = await store.list()

  const outcome = await markStale(manifest, check)
  expect(outcome.marked.map((row) => [row.name, row.port, row.active])).toEqual([['kept', first + 30, false]])
  expect(outcome.leftAlone.map(({endpoint, reason}) => [endpoint.name, reason])).toEqual([
    ['moved', `the row moved to port ${first + 35}`],
    ['again', `the row was registered again (port ${first + 32})`],
    ['marked', 'the row is inactive already'],
  ])
  expect(await store.list()).toEqual(before.map((row) => (row.name === 'kept' ? {...row, active: false} : row)))
  await store.close()
})
