// A PostgreSQL registry's URL as the manifest holds it: checked without repeating it, and
// shown only with its password masked. Kept apart from the rest of the connection logic
// because the manifest loader imports it on every command, SQLite registry or not.

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** The query parameters qm understands (libpq's names); libpq refuses others, and so does qm. */
const QUERY_PARAMETERS = new Set(['host', 'port', 'dbname', 'user', 'password', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'application_name', 'options'])

/**
 * A database URL that shows itself with the password masked: in JSON (`qm validate --json`),
 * in template strings and in util.inspect. Only reveal() gives the real text, for the driver.
 */
export class DatabaseUrl {
  readonly #text: string
  readonly redacted: string

  constructor(text: string) {
    this.#text = text
    this.redacted = redactUrl(text)
  }

  reveal(): string {
    return this.#text
  }

  toString(): string {
    return this.redacted
  }

  toJSON(): string {
    return this.redacted
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DatabaseUrl(${this.redacted})`
  }
}

/** Masks the password of every postgres URL in a text, and any password=… parameter. */
export function redactUrl(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^/\s]*@/gi, '$1***@')
    .replace(/([?&]password=)[^&\s]*/gi, '$1***')
}

/** What is wrong with a registry URL, in words that never repeat it; undefined when nothing is. */
export function urlProblem(text: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(text)) return 'must be a postgres:// or postgresql:// URL'
  const url = parseDatabaseUrl(text)?.url
  if (url === undefined) return 'is not a valid URL (a password with : / @ ? # or % must be percent-encoded)'
  for (const key of url.searchParams.keys()) {
    if (!QUERY_PARAMETERS.has(key)) return `has an unknown parameter "${key}"; known: ${[...QUERY_PARAMETERS].join(', ')}`
  }
  const sslmode = url.searchParams.get('sslmode')
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode)) return `has sslmode "${sslmode}"; expected one of ${SSL_MODES.join(', ')}`
  const port = url.searchParams.get('port') ?? url.port
  if (port !== '' && !/^\d+$/.test(port)) return `has port "${port}", which is not a number`
  const timeout = url.searchParams.get('connect_timeout')
  if (timeout !== null && !/^\d+$/.test(timeout)) return `has connect_timeout "${timeout}"; expected whole seconds`
  return undefined
}

// libpq takes postgres://user@/db (no host: the default socket, or host= below); WHATWG URL
// parsing refuses an empty host after credentials, so one stands in for it.
const NO_HOST = 'qm-no-host.invalid'

/** The URL parsed and the host it names ('' for none), or undefined when it is not a URL. */
export function parseDatabaseUrl(text: string): {url: URL; host: string} | undefined {
  for (const candidate of [text, text.replace('@/', `@${NO_HOST}/`)]) {
    try {
      const url = new URL(candidate)
      return {url, host: url.hostname === NO_HOST ? '' : url.hostname}
    } catch {
      // Not a URL as it stands; the second form is tried, then undefined says so.
    }
  }
  return undefined
}
