// The PostgreSQL store against a real server: the same cases as SQLite, then what only a
// database server has: sign-in (URL, PGPASSWORD, ~/.pgpass), a server that is down or
// silent, and connections the server drops.
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'
import {createCertificateSet} from '../../src/certs/issue.js'
import type {PostgresRegistrySettings} from '../../src/manifest/types.js'
import {PostgresEndpointStore} from '../../src/registry/postgres-store.js'
import {DatabaseUrl} from '../../src/manifest/database-url.js'
import {freePort} from '../helpers/listen.js'
import {lacks} from '../helpers/requirements.js'
import {PASSWORD_ROLE, startTestPostgres, type TestPostgres} from '../helpers/postgres.js'
import {tempDir} from '../helpers/temp-dir.js'
import {request, storeCases, type StoreBackend} from './store-cases.js'

const DJANGO_DDL = readFileSync(new URL('../fixtures/django/serviceendpoint-postgres.sql', import.meta.url), 'utf8')
const PASSWORD = 'correct horse:battery@staple'

let server: TestPostgres

let caFile: string

const NO_POSTGRES = lacks('postgresql')

beforeAll(async () => {
  if (NO_POSTGRES) return
  const certs = await createCertificateSet()
  server = await startTestPostgres({tls: {certPem: certs.server.certPem, keyPem: certs.server.keyPem}})
  caFile = join(server.socketDir, 'ca.crt')
  writeFileSync(caFile, certs.ca.certPem)
  await server.query('postgres', `CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`)
})

afterAll(() => server?.destroy())

function settings(url: string, table = 'core_serviceendpoint'): PostgresRegistrySettings {
  return {kind: 'postgres', url: new DatabaseUrl(url), table, host: 'localhost'}
}

/** A port that accepts connections and never says a word, as a hung server would. */
async function silentListener(): Promise<number> {
  const sockets = new Set<Socket>()
  const listener = createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()))
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy()
    listener.close()
  })
  return (listener.address() as {port: number}).port
}

/** A database the password role owns, so it may create the table there. */
async function ownedDatabase(): Promise<string> {
  const database = await server.createDatabase()
  await server.query('postgres', `ALTER DATABASE ${database} OWNER TO ${PASSWORD_ROLE}`)
  return database
}

const postgres: StoreBackend = {
  fresh: () => server.createDatabase(),
  open: (database) => PostgresEndpointStore.open(settings(server.url({database})), {}),
  async makeDjangoTable(database) {
    await server.query(database, DJANGO_DDL)
    await server.query(database, `INSERT INTO core_serviceendpoint (name, host, port, protocol, is_active) VALUES ('pdf_extractor', 'localhost', 50058, 'grpc', true)`)
  },
  async makeTableWithoutColumns(database) {
    await server.query(database, 'CREATE TABLE core_serviceendpoint (id bigserial PRIMARY KEY, name varchar(100), host varchar(255), port integer)')
  },
  async schema(database) {
    const rows = await server.query<{line: string}>(
      database,
      `SELECT format('column %s %s notnull=%s identity=%s default=%s', attname, format_type(atttypid, atttypmod), attnotnull, attidentity, pg_get_expr(d.adbin, d.adrelid)) AS line
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'core_serviceendpoint'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'core_serviceendpoint'::regclass
       UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE tablename = 'core_serviceendpoint'
       ORDER BY 1`,
    )
    return rows.map((row) => row.line).join('\n')
  },
  async uniqueColumns(database) {
    const rows = await server.query<{columns: string[]}>(
      database,
      `SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns
         FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'core_serviceendpoint'::regclass AND i.indisunique AND NOT i.indisprimary
        GROUP BY i.indexrelid ORDER BY 1`,
    )
    return rows.map((row) => row.columns)
  },
  describe: (database) => `database "${database}" on 127.0.0.1:${server.port} as user postgres`,
}

describe.skipIf(NO_POSTGRES)('PostgreSQL ServiceEndpoint store', () => {
  storeCases(postgres)

  it('creates the table as the README says: identity id, boolean is_active, port >= 0', async () => {
    const database = await postgres.fresh()
    await (await postgres.open(database)).close()
    const schema = await postgres.schema(database)
    expect(schema).toContain('column id bigint notnull=t identity=d default=')
    expect(schema).toContain('column is_active boolean notnull=t identity= default=true')
    expect(schema).toContain('CHECK ((port >= 0))')
  })

  it('lets many first registrations create the missing table at once', async () => {
    const database = await postgres.fresh()
    const stores = await Promise.all(Array.from({length: 8}, () => postgres.open(database)))
    await Promise.all(stores.map((store) => store.close()))
    expect(await postgres.uniqueColumns(database)).toEqual([
      ['host', 'name'],
      ['host', 'port'],
    ])
  })

  it('survives the server dropping its idle connections, and reconnects', async () => {
    const database = await postgres.fresh()
    const store = await PostgresEndpointStore.open(settings(server.url({database})), {})
    try {
      await store.register(request('ocr'))
      await server.query('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database])
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect((await store.list()).map((e) => e.name)).toEqual(['ocr'])
      expect(store.lastIdleError?.message).toMatch(/terminat/)
    } finally {
      await store.close()
    }
  })
})

describe.skipIf(NO_POSTGRES)('signing in to the PostgreSQL registry', () => {
  it('uses the password in the URL, and refuses a wrong one without repeating either', async () => {
    const database = await ownedDatabase()
    const good = await PostgresEndpointStore.open(settings(server.url({database, user: PASSWORD_ROLE, password: PASSWORD})), {})
    await good.register(request('ocr'))
    await good.close()

    const wrong = 'not-the-password-1234'
    const failure = await PostgresEndpointStore.open(settings(server.url({database, user: PASSWORD_ROLE, password: wrong})), {}).then(
      () => expect.fail('expected a refusal'),
      (error: unknown) => error as Error & {code: string; exitCode: number},
    )
    expect(failure.message).toBe(`cannot sign in to the registry, database "${database}" on 127.0.0.1:${server.port} as user ${PASSWORD_ROLE}: password authentication failed for user "${PASSWORD_ROLE}"`)
    expect({code: failure.code, exitCode: failure.exitCode}).toEqual({code: 'REGISTRY_AUTH', exitCode: 1})
    const everything = JSON.stringify({message: failure.message, stack: failure.stack, hint: (failure as {hint?: string}).hint})
    for (const secret of [wrong, PASSWORD, encodeURIComponent(PASSWORD)]) expect(everything).not.toContain(secret)
  })

  it('takes PGPASSWORD and the PG* variables when the URL leaves them out', async () => {
    const database = await ownedDatabase()
    const env = {PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: PASSWORD_ROLE, PGDATABASE: database, PGPASSWORD: PASSWORD}
    const store = await PostgresEndpointStore.open(settings('postgres://'), env)
    expect(store.target).toMatchObject({host: '127.0.0.1', port: server.port, user: PASSWORD_ROLE, database})
    await store.close()
  })

  it('reads ~/.pgpass (PGPASSFILE) as psql does, and ignores it when others may read it', async () => {
    const database = await ownedDatabase()
    const file = join(tempDir(), 'pgpass')
    const escaped = PASSWORD.replace(/\\/g, '\\\\').replace(/:/g, '\\:')
    writeFileSync(file, `# host:port:database:user:password\n127.0.0.1:${server.port}:other_db:*:nope\n127.0.0.1:*:${database}:${PASSWORD_ROLE}:${escaped}\n`, {mode: 0o600})
    const url = server.url({database, user: PASSWORD_ROLE})
    const store = await PostgresEndpointStore.open(settings(url), {PGPASSFILE: file})
    await store.close()

    chmodSync(file, 0o644)
    await expect(PostgresEndpointStore.open(settings(url), {PGPASSFILE: file})).rejects.toThrow(
      `cannot sign in to the registry, database "${database}" on 127.0.0.1:${server.port} as user ${PASSWORD_ROLE}: no password supplied (password file "${file}" has group or world access; permissions should be u=rw (0600) or less)`,
    )
  })

  it('connects over the Unix socket named by host=, without TLS', async () => {
    const database = await server.createDatabase()
    const store = await PostgresEndpointStore.open(settings(`postgres:///${database}?host=${encodeURIComponent(server.socketDir)}&port=${server.port}&user=postgres`), {})
    expect((await store.register(request('ocr'))).endpoint.port).toBe(50051)
    await store.close()
  })
})

describe.skipIf(NO_POSTGRES)('TLS to the PostgreSQL registry (sslmode)', () => {
  /** Whether qm's own connection to the database uses TLS. */
  async function usesTls(database: string, url: string): Promise<boolean> {
    const store = await PostgresEndpointStore.open(settings(url), {})
    try {
      await store.list() // leaves an idle connection in the pool to look at
      const rows = await server.query<{ssl: boolean}>('postgres', `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND a.application_name = 'qm'`, [database])
      expect(rows.length).toBeGreaterThan(0)
      return rows.every((row) => row.ssl)
    } finally {
      await store.close()
    }
  }

  it('tries TLS first by default (prefer), and not with sslmode=disable or over a Unix socket', async () => {
    const database = await server.createDatabase()
    expect(await usesTls(database, server.url({database}))).toBe(true)
    expect(await usesTls(database, `${server.url({database})}?sslmode=disable`)).toBe(false)
    expect(await usesTls(database, `postgres:///${database}?host=${encodeURIComponent(server.socketDir)}&port=${server.port}&user=postgres&sslmode=require`)).toBe(false)
  })

  it('checks the certificate against sslrootcert with verify-full, and refuses one another CA signed', async () => {
    const database = await server.createDatabase()
    expect(await usesTls(database, `${server.url({database})}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`)).toBe(true)
    const strangerCa = join(tempDir(), 'other-ca.crt')
    writeFileSync(strangerCa, (await createCertificateSet()).ca.certPem)
    const refusal = PostgresEndpointStore.open(settings(`${server.url({database})}?sslmode=verify-full&sslrootcert=${encodeURIComponent(strangerCa)}`), {})
    await expect(refusal).rejects.toMatchObject({code: 'REGISTRY_TLS', exitCode: 1})
    await expect(refusal).rejects.toThrow(`the registry's TLS certificate was refused, database "${database}" on 127.0.0.1:${server.port} as user postgres: `)
    await expect(PostgresEndpointStore.open(settings(`${server.url({database})}?sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt`), {})).rejects.toThrow(
      'sslmode verify-ca needs the CA certificate, and /nonexistent/ca.crt does not exist',
    )
  })
})

describe.skipIf(NO_POSTGRES)('an unreachable PostgreSQL registry', () => {
  it('fails at once with the host, port and database when nothing listens', async () => {
    const port = await freePort()
    const started = performance.now()
    const failure = PostgresEndpointStore.open(settings(`postgres://qm:secret-pass-99@127.0.0.1:${port}/platform`), {})
    await expect(failure).rejects.toThrow(`cannot reach the registry, database "platform" on 127.0.0.1:${port} as user qm: connection refused`)
    await expect(failure).rejects.toMatchObject({code: 'REGISTRY_UNREACHABLE', exitCode: 1})
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('gives up on a server that never answers after connect_timeout', async () => {
    const port = await silentListener()
    const started = performance.now()
    await expect(PostgresEndpointStore.open(settings(`postgres://qm@127.0.0.1:${port}/platform?connect_timeout=2`), {})).rejects.toThrow(
      `cannot reach the registry, database "platform" on 127.0.0.1:${port} as user qm: no answer within 2s`,
    )
    const elapsedMs = performance.now() - started
    expect(elapsedMs).toBeGreaterThan(1900)
    expect(elapsedMs).toBeLessThan(4000)
  })
})
