// A PostgreSQL registry's address as libpq reads it: the URL, completed from the PG*
// variables and libpq's defaults, and the form of it messages show (user, host, port and
// database, never the password). Loaded with the PostgreSQL store only.
import {existsSync} from 'node:fs'
import {homedir, userInfo} from 'node:os'
import {join} from 'node:path'
import {parseDatabaseUrl, SSL_MODES, urlProblem, type DatabaseUrl, type SslMode} from '../manifest/database-url.js'

// libpq's compiled-in socket folder on Debian, and what psql dials when no host is named.
export const DEFAULT_SOCKET_DIR = '/var/run/postgresql'
export const DEFAULT_CONNECT_TIMEOUT_S = 5

/** Everything needed to connect, after the URL, the PG* variables and libpq's defaults. */
export interface PostgresTarget {
  /** A host name, an address, or a folder holding the server's Unix socket. */
  host: string
  port: number
  database: string
  user: string
  /** From the URL or PGPASSWORD; absent means ~/.pgpass is asked if the server wants one. */
  password?: string
  sslmode: SslMode
  sslrootcert?: string
  sslcert?: string
  sslkey?: string
  connectTimeoutMs: number
  applicationName: string
  options?: string
}

export class TargetError extends Error {}

export function resolveTarget(url: DatabaseUrl, env: NodeJS.ProcessEnv): PostgresTarget {
  const problem = urlProblem(url.reveal())
  if (problem) throw new TargetError(`the registry URL ${problem}`)
  const {url: parsed, host: urlHost} = parseDatabaseUrl(url.reveal())!
  const query = (key: string) => nonEmpty(parsed.searchParams.get(key) ?? undefined)
  const decode = (text: string) => nonEmpty(decodeURIComponent(text))

  const port = Number(query('port') ?? nonEmpty(parsed.port) ?? nonEmpty(env.PGPORT) ?? 5432)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TargetError(`the registry port ${port} is not a TCP port`)
  const named = query('host') ?? decode(urlHost.replace(/^\[(.*)\]$/, '$1')) ?? nonEmpty(env.PGHOST)
  const host = named ?? (existsSync(join(DEFAULT_SOCKET_DIR, `.s.PGSQL.${port}`)) ? DEFAULT_SOCKET_DIR : 'localhost')
  if (host.includes(',')) throw new TargetError('the registry URL names several hosts; qm connects to one')
  const user = query('user') ?? decode(parsed.username) ?? nonEmpty(env.PGUSER) ?? osUser()
  const database = query('dbname') ?? decode(parsed.pathname.slice(1)) ?? nonEmpty(env.PGDATABASE) ?? user
  const password = query('password') ?? decode(parsed.password) ?? nonEmpty(env.PGPASSWORD)

  const sslmode = query('sslmode') ?? nonEmpty(env.PGSSLMODE) ?? 'prefer'
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) throw new TargetError(`PGSSLMODE is "${sslmode}"; expected one of ${SSL_MODES.join(', ')}`)
  const timeoutText = query('connect_timeout') ?? nonEmpty(env.PGCONNECT_TIMEOUT)
  const timeoutS = timeoutText === undefined ? DEFAULT_CONNECT_TIMEOUT_S : Number(timeoutText)
  if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new TargetError(`connect_timeout "${timeoutText}" is not a number of seconds`)

  const target: PostgresTarget = {
    host,
    port,
    database,
    user,
    sslmode: sslmode as SslMode,
    // libpq reads 0 as "wait forever"; qm keeps a bound so a command never hangs.
    connectTimeoutMs: (timeoutS === 0 ? DEFAULT_CONNECT_TIMEOUT_S : Math.max(timeoutS, 2)) * 1000,
    applicationName: query('application_name') ?? nonEmpty(env.PGAPPNAME) ?? 'qm',
  }
  if (password !== undefined) target.password = password
  const certs: [keyof PostgresTarget & ('sslrootcert' | 'sslcert' | 'sslkey'), string][] = [
    ['sslrootcert', 'PGSSLROOTCERT'],
    ['sslcert', 'PGSSLCERT'],
    ['sslkey', 'PGSSLKEY'],
  ]
  for (const [key, variable] of certs) {
    const value = query(key) ?? nonEmpty(env[variable])
    if (value !== undefined) target[key] = value
  }
  const options = query('options') ?? nonEmpty(env.PGOPTIONS)
  if (options !== undefined) target.options = options
  return target
}

/** Where the target is, for messages: never the password. */
export function describeTarget(target: Pick<PostgresTarget, 'host' | 'port' | 'database' | 'user'>): string {
  const where = target.host.startsWith('/') ? `${target.host}/.s.PGSQL.${target.port}` : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
  return `database "${target.database}" on ${where} as user ${target.user}`
}

/** libpq's defaults for the client certificate files, under ~/.postgresql. */
export function defaultSslFile(name: 'root.crt' | 'postgresql.crt' | 'postgresql.key'): string {
  return join(homedir(), '.postgresql', name)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function osUser(): string {
  try {
    return userInfo().username
  } catch {
    // No passwd entry for this uid (some containers): libpq would fail the same way.
    return process.env.USER ?? 'postgres'
  }
}
