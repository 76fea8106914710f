// A PostgreSQL registry that goes away while services run: nothing is stopped or restarted
// for it, a service killed meanwhile is restarted as usual, `qm status` says the registry is
// behind, and once the database is back the rows agree with what runs.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {REGISTRY_RETRY_MS} from '../../src/supervisor/registry-writes.js'
import {makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {startTestPostgres, type TestPostgres} from '../helpers/postgres.js'
import type {StatusRow} from '../helpers/run-qm.js'

const LIVENESS_INTERVAL_MS = 500 // what makeProject's manifest sets

type Row = StatusRow

interface Status {
  services: Row[]
  registry: {pendingWrites: number; lastError: string | null} | null
}

let server: TestPostgres

const NO_POSTGRES = lacks('postgresql')

beforeAll(async () => {
  if (NO_POSTGRES) return
  server = await startTestPostgres()
})

afterAll(() => server?.destroy())

async function status(project: Project): Promise<Status> {
  return JSON.parse((await project.qm('status', '--json')).stdout) as Status
}

async function rows(database: string): Promise<[string, number, boolean][]> {
  const table = await server.query<{name: string; port: number; is_active: boolean}>(database, 'SELECT name, port, is_active FROM core_serviceendpoint ORDER BY name')
  return table.map((row) => [row.name, row.port, row.is_active])
}

describe.skipIf(NO_POSTGRES)('a registry outage while services run', () => {
  it('stops and restarts nothing, keeps the is_active changes, and writes them once the database is back', {timeout: 120_000}, async () => {
    const database = await server.createDatabase()
    const project = await makeProject()
    project.writeManifest(
      service('alpha', 'guide-call-server.mjs') + service('beta', 'health-server.mjs') + service('gamma', 'guide-call-server.mjs'),
      `registry: {url: "${server.url({database})}", host: localhost}\n`,
    )
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const before = await status(project)
    expect(before.registry).toEqual({pendingWrites: 0, lastError: null})
    expect(await rows(database)).toEqual(before.services.map((row) => [row.name, row.port, true]))

    server.stop()
    const victim = before.services.find((row) => row.name === 'beta')!
    process.kill(victim.pid!, 'SIGKILL')
    const restarted = await waitFor(async () => {
      const row = (await status(project)).services.find((r) => r.name === 'beta')!
      return row.state === 'running' && row.pid !== victim.pid && row.health?.status === 'SERVING' ? row : undefined
    }, 'beta to run again with a new pid while the database is down')
    expect({port: restarted.port, restarts: restarted.restarts}).toEqual({port: victim.port, restarts: 1})

    // An operator restart needs no registry either: the service keeps its port.
    const gamma = before.services.find((row) => row.name === 'gamma')!
    const restart = await project.qm('restart', 'gamma')
    expect(restart.exitCode, restart.stderr).toBe(0)
    // The restart's account ends saying the rows lag behind what it did.
    expect(restart.stderr.split('\n').at(-1)).toMatch(
      /^registry behind: 2 is_active change\(s\) not written yet \(cannot reach the registry, .*\); the rows say what they said before, and the daemon writes the changes when the database answers$/,
    )

    const behind = await status(project)
    expect(behind.services.map((row) => [row.name, row.state, row.port])).toEqual(before.services.map((row) => [row.name, 'running', row.port]))
    const alpha = behind.services.find((row) => row.name === 'alpha')!
    expect({pid: alpha.pid, restarts: alpha.restarts}).toEqual({pid: before.services[0]!.pid, restarts: 0})
    expect(behind.services.find((row) => row.name === 'gamma')!.pid).not.toBe(gamma.pid)
    expect(behind.registry!.pendingWrites).toBe(2) // beta and gamma: inactive, then active again
    expect(behind.registry!.lastError).toMatch(new RegExp(`^cannot reach the registry, database "${database}" on 127\\.0\\.0\\.1:${server.port} as user postgres: `))
    const table = await project.qm('status')
    expect(table.exitCode).toBe(0)
    expect(table.stdout.split('\n').at(-1)).toMatch(/^registry behind: 2 is_active change\(s\) not written yet \(cannot reach the registry, .*\); the daemon writes them when the database answers, and services run on$/)

    server.start()
    const backAtMs = performance.now()
    // The rows never went inactive (those writes were kept too): what shows the catching up
    // is the daemon's backlog emptying.
    const agreed = await waitFor(
      async () => {
        if ((await status(project)).registry?.pendingWrites !== 0) return undefined
        const now = await rows(database)
        return now.every(([, , active]) => active) && now.length === 3 ? now : undefined
      },
      'the kept changes written and every row active',
      LIVENESS_INTERVAL_MS + REGISTRY_RETRY_MS + 2000,
    )
    const tookMs = performance.now() - backAtMs
    expect(agreed).toEqual(before.services.map((row) => [row.name, row.port, true]))
    expect(tookMs).toBeLessThan(LIVENESS_INTERVAL_MS + REGISTRY_RETRY_MS + 1000)
    expect((await status(project)).registry).toEqual({pendingWrites: 0, lastError: null})
    const down = (await status(project)).services.map((row) => row.pid)
    expect(down).toEqual(behind.services.map((row) => row.pid))

    expect((await project.qm('stop')).exitCode).toBe(0)
    expect(await rows(database)).toEqual(before.services.map((row) => [row.name, row.port, false]))
  })
})

describe.skipIf(NO_POSTGRES)('a registry that is down when qm starts', () => {
  it('starts the services whose ports it knows, refuses only the one that needs a new port, and writes the rows once the database answers', {timeout: 120_000}, async () => {
    const database = await server.createDatabase()
    const project = await makeProject()
    const registry = `registry: {url: "${server.url({database})}", host: localhost}\n`
    project.writeManifest(service('alpha', 'guide-call-server.mjs') + service('beta', 'health-server.mjs'), registry)
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await status(project)
    // The host goes down: qm and its services stop, the rows go inactive.
    expect((await project.qm('shutdown')).exitCode).toBe(0)
    expect(await rows(database)).toEqual(before.services.map((row) => [row.name, row.port, false]))

    // It comes back while the database is down, with a service added meanwhile.
    server.stop()
    project.writeManifest(service('alpha', 'guide-call-server.mjs') + service('beta', 'health-server.mjs') + service('gamma', 'guide-call-server.mjs'), registry)
    const started = await project.qm('start')
    expect(started.exitCode).toBe(1)
    expect(started.stderr).toMatch(/✗ gamma: cannot reach the registry, database ".*" on 127\.0\.0\.1:\d+ as user postgres: /)
    const behind = await status(project)
    expect(behind.services.map((row) => [row.name, row.state, row.port, row.health?.status ?? null])).toEqual([
      ['alpha', 'running', before.services[0]!.port, 'SERVING'],
      ['beta', 'running', before.services[1]!.port, 'SERVING'],
      ['gamma', 'stopped', null, null],
    ])
    expect(behind.registry!.pendingWrites).toBe(2)
    expect(behind.registry!.lastError).toMatch(/^cannot reach the registry/)

    server.start()
    const agreed = await waitFor(
      async () => {
        if ((await status(project)).registry?.pendingWrites !== 0) return undefined
        const now = await rows(database)
        return now.every(([, , active]) => active) ? now : undefined
      },
      'the rows active once the database is back',
      LIVENESS_INTERVAL_MS + REGISTRY_RETRY_MS + 5000,
    )
    expect(agreed).toEqual(before.services.map((row) => [row.name, row.port, true]))
    // And the one that needed a port gets one now.
    const gamma = await project.qm('start', 'gamma')
    expect(gamma.exitCode, gamma.stderr).toBe(0)
    expect((await rows(database)).map(([name, , active]) => [name, active])).toEqual([
      ['alpha', true],
      ['beta', true],
      ['gamma', true],
    ])
  })
})
