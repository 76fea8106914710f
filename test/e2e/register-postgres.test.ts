// The registry commands as separate processes against one PostgreSQL database shared by
// two hosts: concurrency per host, every host's rows, and the one-line errors of a database
// that is down, a wrong password and a table that is not a ServiceEndpoint table, none of
// which may show the password.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {freePort} from '../helpers/listen.js'
import {lacks} from '../helpers/requirements.js'
import {PASSWORD_ROLE, startTestPostgres, type TestPostgres} from '../helpers/postgres.js'
import {runQm, startQm} from '../helpers/run-qm.js'
import {tempDir} from '../helpers/temp-dir.js'

const PASSWORD = 'pg-secret-4821'
let server: TestPostgres

const NO_POSTGRES = lacks('postgresql')

beforeAll(async () => {
  if (NO_POSTGRES) return
  server = await startTestPostgres()
  await server.query('postgres', `CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD '${PASSWORD}'`)
})

afterAll(() => server?.destroy())

function project(registry: string): string {
  const dir = tempDir()
  writeFileSync(join(dir, 'services.yaml'), `version: 1\nregistry: ${registry}\nservices:\n  echo:\n    command: [node, server.mjs]\n`)
  return dir
}

async function rows(database: string) {
  return server.query<{name: string; host: string; port: number; is_active: boolean}>(database, 'SELECT name, host, port, is_active FROM core_serviceendpoint ORDER BY host, port')
}

describe.skipIf(NO_POSTGRES)('qm register on PostgreSQL', () => {
  // Ten at once per host: twenty qm processes contend for each host's allocation lock. Forty
  // at once on two cores held up the test running beside this one by up to a minute.
  it('gives 10 registrations at once per host 10 distinct ports, for two hosts sharing one table', {timeout: 180_000}, async () => {
    const database = await server.createDatabase()
    const here = project(`{url: "${server.url({database})}", host: localhost}`)
    const there = project(`{url: "${server.url({database})}", host: worker-2}`)
    const names = Array.from({length: 10}, (_, i) => `svc_${i}`)
    const runs = [...names.map((name) => startQm(['register', name], {cwd: here})), ...names.map((name) => startQm(['register', name], {cwd: there}))]
    const results = await Promise.all(runs)
    for (const result of results) expect({exitCode: result.exitCode, stderr: result.stderr}).toEqual({exitCode: 0, stderr: ''})

    const table = await rows(database)
    const portsOf = (host: string) => table.filter((row) => row.host === host).map((row) => row.port)
    expect(new Set(portsOf('localhost')).size).toBe(10)
    for (const port of portsOf('localhost')) expect(port >= 50051 && port <= 50090).toBe(true)
    // No listener check for another host: the lowest 10, which this host uses too.
    expect(portsOf('worker-2')).toEqual(Array.from({length: 10}, (_, i) => 50051 + i))
    expect(results.slice(10).map((result) => Number(result.stdout)).sort()).toEqual(portsOf('worker-2'))

    const listing = await runQm(['endpoints', '--all-hosts'], {cwd: here})
    expect(listing.exitCode).toBe(0)
    const lines = listing.stdout.split('\n')
    expect(lines).toHaveLength(1 + 20 + 2)
    expect(lines.at(-2)).toBe('10 registered, 30 of 40 ports free in 50051-50090 on localhost')
    expect(lines.at(-1)).toBe('10 registered, 30 of 40 ports free in 50051-50090 on worker-2')
    const json = JSON.parse((await runQm(['endpoints', '--all-hosts', '--json'], {cwd: there})).stdout)
    expect(json.hosts).toEqual([
      {host: 'localhost', registered: 10, free: 30},
      {host: 'worker-2', registered: 10, free: 30},
    ])
    expect(json.endpoints).toHaveLength(20)
    expect(JSON.parse((await runQm(['endpoints', '--json'], {cwd: there})).stdout)).toMatchObject({host: 'worker-2', free: 30})
  })

  it('takes QM_REGISTRY_URL over the manifest, and shows the URL only with its password masked', async () => {
    const database = await server.createDatabase()
    await server.query('postgres', `ALTER DATABASE ${database} OWNER TO ${PASSWORD_ROLE}`)
    const dir = project('{path: reg.sqlite3, host: node-9}')
    const env = {QM_REGISTRY_URL: server.url({database, user: PASSWORD_ROLE, password: PASSWORD})}
    const registered = await runQm(['register', 'echo'], {cwd: dir, env})
    expect(registered).toEqual({exitCode: 0, stdout: '50051', stderr: ''})
    expect((await rows(database)).map((row) => [row.name, row.host, row.port])).toEqual([['echo', 'node-9', 50051]])
    const validate = await runQm(['validate'], {cwd: dir, env})
    expect(validate.stdout.split('\n')[0]).toBe(
      `${join(dir, 'services.yaml')}: valid, 1 service(s), ports 50051-50090, registry postgres://${PASSWORD_ROLE}:***@127.0.0.1:${server.port}/${database} (table core_serviceendpoint, host node-9)`,
    )
    const json = await runQm(['validate', '--json'], {cwd: dir, env})
    expect(JSON.parse(json.stdout).registry).toEqual({kind: 'postgres', url: `postgres://${PASSWORD_ROLE}:***@127.0.0.1:${server.port}/${database}`, table: 'core_serviceendpoint', host: 'node-9'})
    expect(validate.stdout + json.stdout).not.toContain(PASSWORD)
  })
})

describe.skipIf(NO_POSTGRES)('qm and a PostgreSQL registry it cannot use', () => {
  const hint = (text: string) => `hint  ${text}`

  it('says so in one line, exit 1, for a database that is down, a wrong password and a table that is not ServiceEndpoint', async () => {
    const port = await freePort()
    const database = await server.createDatabase()
    await server.query(database, 'CREATE TABLE core_serviceendpoint (id bigserial PRIMARY KEY, name varchar(100), host varchar(255), port integer)')
    const wrong = 'wrong-4821-password'
    const cases: {registry: string; error: string; code: string}[] = [
      {
        registry: `{url: "postgres://qm:${PASSWORD}@127.0.0.1:${port}/platform"}`,
        error: `error cannot reach the registry, database "platform" on 127.0.0.1:${port} as user qm: connection refused\n${hint('check that PostgreSQL runs there and that registry.url (or QM_REGISTRY_URL) names it')}`,
        code: 'REGISTRY_UNREACHABLE',
      },
      {
        registry: `{url: "${server.url({database, user: PASSWORD_ROLE, password: wrong})}"}`,
        error: `error cannot sign in to the registry, database "${database}" on 127.0.0.1:${server.port} as user ${PASSWORD_ROLE}: password authentication failed for user "${PASSWORD_ROLE}"\n${hint('check the user and password: the URL, PGPASSWORD or ~/.pgpass (mode 0600)')}`,
        code: 'REGISTRY_AUTH',
      },
      {
        registry: `{url: "${server.url({database, password: PASSWORD})}"}`,
        error: `error table core_serviceendpoint in database "${database}" on 127.0.0.1:${server.port} as user postgres has no column protocol, is_active; a ServiceEndpoint table has id, name, host, port, protocol, is_active\n${hint('point registry.table at the ServiceEndpoint table, or at a name that does not exist yet so qm creates it')}`,
        code: 'REGISTRY_SCHEMA',
      },
    ]
    for (const {registry, error, code} of cases) {
      const dir = project(registry)
      const text = await runQm(['register', 'echo'], {cwd: dir})
      expect({exitCode: text.exitCode, stdout: text.stdout, stderr: text.stderr}).toEqual({exitCode: 1, stdout: '', stderr: error})
      const json = await runQm(['endpoints', '--json'], {cwd: dir})
      expect(json.exitCode).toBe(1)
      expect(JSON.parse(json.stdout).error).toMatchObject({code, exitCode: 1, message: error.split('\n')[0]!.slice('error '.length)})
      for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
        expect(output).not.toContain(PASSWORD)
        expect(output).not.toContain(wrong)
      }
    }
    expect(await server.query(database, 'SELECT * FROM core_serviceendpoint')).toEqual([])
  })

  it('starts the daemon all the same, says why in its log, fails the start that needs the registry at once, and logs no password', async () => {
    const port = await freePort()
    const dir = project(`{url: "postgres://qm:${PASSWORD}@127.0.0.1:${port}/platform"}`)
    const started = performance.now()
    const result = await runQm(['start'], {cwd: dir})
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(result.exitCode).toBe(1)
    const log = readFileSync(join(dir, '.qm', 'daemon.log'), 'utf8')
    expect(log).toContain(`registry: cannot reach the registry, database "platform" on 127.0.0.1:${port} as user qm: connection refused; starting all the same`)
    expect(result.stderr + result.stdout + log).not.toContain(PASSWORD)
    await runQm(['shutdown'], {cwd: dir})
  })
})

describe('qm endpoints --all-hosts on SQLite', () => {
  it('lists every host of one file, with a line per host', async () => {
    // Both hosts are other machines, so a service running here (the README's demo) does
    // not move the ports: only the registry decides for another host.
    const dir = project('{path: .qm/registry.sqlite3, host: node-1}')
    await runQm(['register', 'echo'], {cwd: dir})
    await runQm(['register', 'ocr', '--host', 'worker-2', '--inactive'], {cwd: dir})
    const listing = await runQm(['endpoints', '--all-hosts'], {cwd: dir})
    expect(listing.stdout).toBe(
      [
        'PORT   NAME  STATUS    HOST      PROTOCOL',
        '50051  echo  ACTIVE    node-1    grpc',
        '50051  ocr   INACTIVE  worker-2  grpc',
        '1 registered, 39 of 40 ports free in 50051-50090 on node-1',
        '1 registered, 39 of 40 ports free in 50051-50090 on worker-2',
      ].join('\n'),
    )
    const both = await runQm(['endpoints', '--all-hosts', '--host', 'x'], {cwd: dir})
    expect(both.exitCode).toBe(2)
  })
})
