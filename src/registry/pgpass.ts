// The password file psql reads (libpq, "The Password File"): $PGPASSFILE, else ~/.pgpass.
// Lines are host:port:database:user:password; each of the first four may be * to match
// anything; a backslash escapes the next character (\: and \\); # starts a comment; the
// first matching line wins; a file that group or others may read is ignored, as libpq does.
import {readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {DEFAULT_SOCKET_DIR} from './postgres-url.js'

export interface PasswordQuery {
  host: string
  port: number
  database: string
  user: string
}

export interface PasswordFileResult {
  password?: string
  /** Why the file was passed over (its mode), for the daemon log; absent when read or missing. */
  warning?: string
}

export function passwordFilePath(env: NodeJS.ProcessEnv): string {
  return env.PGPASSFILE ? env.PGPASSFILE : join(homedir(), '.pgpass')
}

export function lookupPassword(query: PasswordQuery, env: NodeJS.ProcessEnv): PasswordFileResult {
  const file = passwordFilePath(env)
  let mode: number
  try {
    const stat = statSync(file)
    if (!stat.isFile()) return {warning: `password file "${file}" is not a plain file`}
    mode = stat.mode
  } catch {
    return {} // no file: nothing to find, as with libpq
  }
  if ((mode & 0o077) !== 0) {
    return {warning: `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`}
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    return {warning: `password file "${file}" cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`}
  }
  const password = findPassword(text, query)
  return password === undefined ? {} : {password}
}

/** The password of the first line matching the query. */
export function findPassword(text: string, query: PasswordQuery): string | undefined {
  // A socket in libpq's default folder is looked up as localhost; any other folder by its path.
  const host = query.host === '' || query.host === DEFAULT_SOCKET_DIR ? 'localhost' : query.host
  const wanted = [host, String(query.port), query.database, query.user]
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    if (line === '' || line.startsWith('#')) continue
    const fields = splitFields(line)
    if (fields.length < 5) continue
    if (wanted.every((value, i) => fields[i]!.wildcard || fields[i]!.text === value)) {
      // The rest of the line after the fourth separator, escapes undone, is the password.
      return fields[4]!.text
    }
  }
  return undefined
}

interface Field {
  text: string
  /** The whole field was an unescaped `*`. */
  wildcard: boolean
}

function splitFields(line: string): Field[] {
  const fields: Field[] = []
  let text = ''
  let raw = ''
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!
    if (char === '\\' && i + 1 < line.length) {
      text += line[i + 1]
      raw += char + line[i + 1]
      i++
    } else if (char === ':' && fields.length < 4) {
      fields.push({text, wildcard: raw === '*'})
      text = ''
      raw = ''
    } else {
      text += char
      raw += char
    }
  }
  fields.push({text, wildcard: raw === '*'})
  return fields
}
