// Values written into unit files so that systemd reads back exactly what qm meant:
// systemd.syntax(7) quoting and C escapes, "%%" for specifiers (expanded in every
// setting qm writes) and "$$" on command lines (expanded there, not in Environment=).
import {QmError} from '../errors.js'

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
}

/** One word of an ExecStart=-style command line, unquoted by systemd to exactly `word`. */
export function quoteExecWord(word: string): string {
  return quoteWord(word.replaceAll('$', '$$$$'))
}

/** One `NAME=value` item of Environment=, which systemd unquotes but never expands `$` in. */
export function quoteEnvironmentItem(name: string, value: string): string {
  return quoteWord(`${name}=${value}`)
}

/** A whole command line: the executable (absolute, as systemd wants it) and its arguments. */
export function execLine(argv: readonly string[], prefix = ''): string {
  const [executable, ...args] = argv
  if (!executable?.startsWith('/')) throw new Error(`systemd needs an absolute executable, got ${JSON.stringify(executable)}`)
  // systemd refuses quotes, backslashes and control characters in the executable's path
  // ("special characters"), and expands $$ in the arguments but not in it.
  if (/["'\\$\x00-\x1f\x7f]/.test(executable)) {
    throw new QmError(`systemd cannot run an executable whose path holds quotes, a backslash, "$" or a control character: ${executable}`, 1, 'EXPORT', 'link the executable from a plainer path and name that in command')
  }
  return `${prefix}${[quoteWord(executable), ...args.map(quoteExecWord)].join(' ')}`
}

/** A setting's raw value (a path, a description): only specifiers need escaping. */
export function escapeSpecifiers(text: string): string {
  if (/[\x00-\x1f\x7f]/.test(text)) throw new QmError(`a unit file cannot hold control characters: ${JSON.stringify(text)}`, 1, 'EXPORT')
  return text.replaceAll('%', '%%')
}

function quoteWord(word: string): string {
  const specifiersEscaped = word.replaceAll('%', '%%')
  // A lone ";" separates commands and must not stay bare; anything else plain stays plain.
  if (SAFE_WORD.test(word) && word !== ';') return specifiersEscaped
  let quoted = ''
  for (const char of specifiersEscaped) {
    const code = char.codePointAt(0)!
    if (ESCAPES[char] !== undefined) quoted += ESCAPES[char]
    else if (code < 0x20 || code === 0x7f) quoted += `\\x${code.toString(16).padStart(2, '0')}`
    else quoted += char
  }
  return `"${quoted}"`
}
