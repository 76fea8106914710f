// A throwaway PostgreSQL server from Debian's package for the tests of the PostgreSQL
// registry: initdb into a temporary folder, then postgres on a free port with its Unix
// socket in that folder. As root the server runs as the postgres user (initdb refuses
// root). Every connection is trusted except one role that needs a password.
import {execFileSync, spawnSync} from 'node:child_process'
import {chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import pg from 'pg'
import {postgresBinDir} from '../requirements.js'

/** The role whose sign-in needs a password (scram-sha-256); every other role is trusted. */
export const PASSWORD_ROLE = 'qm_secret'

export interface TestPostgres {
  /** The address it listens on (127.0.0.1 unless told otherwise). */
  host: string
  port: number
  /** The folder holding the server's Unix socket. */
  socketDir: string
  /** A URL for a database on this server (default: postgres as user postgres, no password). */
  url(options?: {database?: string; user?: string; password?: string}): string
  /** A fresh, empty database; its name. */
  createDatabase(): Promise<string>
  /** Runs SQL as the superuser in a database. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, sql: string, params?: unknown[]): Promise<R[]>
  /** Fast shutdown: connections are cut, the server is gone when this resolves. */
  stop(): void
  start(): void
  /** Stops the server and removes its folder; safe to call twice. */
  destroy(): void
}


// A port outside 50000–59999, where the registry tests hand out ports and allocation skips listeners.
async function serverPort(): Promise<number> {
  for (;;) {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    const address = server.address()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    if (address && typeof address === 'object' && (address.port < 50000 || address.port > 59999)) return address.port
  }
}

let databases = 0

export interface TestPostgresOptions {
  /** Serve TLS with this certificate and key (PEM) beside plain connections. */
  tls?: {certPem: string; keyPem: string}
  /** Run the server in this network namespace (ip netns), listening on `address` there. */
  namespace?: {name: string; address: string; trustedNetwork: string}
}

export async function startTestPostgres(options: TestPostgresOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir()
  const tool = (name: string) => (bin ? join(bin, name) : name)
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'qm-pg-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  const port = await serverPort()
  let tlsOptions = ''
  if (options.tls) {
    // The server refuses a key that others may read, and must own it.
    writeFileSync(join(dir, 'server.crt'), options.tls.certPem)
    writeFileSync(join(dir, 'server.key'), options.tls.keyPem, {mode: 0o600})
    tlsOptions = ` -c ssl=on -c ssl_cert_file=${join(dir, 'server.crt')} -c ssl_key_file=${join(dir, 'server.key')}`
  }
  if (asRoot) {
    const {uid, gid} = postgresUser()
    for (const path of [dir, ...(options.tls ? [join(dir, 'server.crt'), join(dir, 'server.key')] : [])]) chownSync(path, uid, gid)
  }
  const host = options.namespace?.address ?? '127.0.0.1'
  const inNamespace = options.namespace === undefined ? [] : ['ip', 'netns', 'exec', options.namespace.name]
  const run = (argv: string[]) => {
    const [command, ...args] = [...inNamespace, ...(asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv)]
    const result = spawnSync(command!, args, {encoding: 'utf8', cwd: dir})
    if (result.status !== 0) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : ''
      throw new Error(`${argv.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}\n${log}`)
    }
  }
  let running = false
  const server: TestPostgres = {
    host,
    port,
    socketDir: dir,
    url: ({database = 'postgres', user = 'postgres', password} = {}) =>
      `postgres://${encodeURIComponent(user)}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@${host}:${port}/${database}`,
    async createDatabase() {
      const name = `qm_test_${process.pid}_${++databases}`
      await server.query('postgres', `CREATE DATABASE ${name}`)
      return name
    },
    async query(database, sql, params = []) {
      const client = new pg.Client({host, port, user: 'postgres', database, password: ''})
      await client.connect()
      try {
        return (await client.query(sql, params)).rows
      } finally {
        await client.end()
      }
    },
    start() {
      const options = `-p ${port} -k ${dir} -c listen_addresses=${host} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200${tlsOptions}`
      run([tool('pg_ctl'), '-D', data, '-l', logFile, '-o', options, '-w', '-t', '30', 'start'])
      running = true
    },
    stop() {
      if (!running) return
      run([tool('pg_ctl'), '-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'])
      running = false
    },
    destroy() {
      try {
        if (running) run([tool('pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        running = false
        rmSync(dir, {recursive: true, force: true})
      }
    },
  }
  try {
    run([tool('initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C'])
    writeFileSync(
      join(data, 'pg_hba.conf'),
      [
        `local all ${PASSWORD_ROLE} scram-sha-256`,
        `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256`,
        'local all all trust',
        'host all all 127.0.0.1/32 trust',
        ...(options.namespace === undefined ? [] : [`host all all ${options.namespace.trustedNetwork} trust`]),
        '',
      ].join('\n'),
    )
    server.start()
  } catch (error) {
    server.destroy()
    throw error
  }
  return server
}

function postgresUser(): {uid: number; gid: number} {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], {encoding: 'utf8'}).trim())
  return {uid: id('-u'), gid: id('-g')}
}
