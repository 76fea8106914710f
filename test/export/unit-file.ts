// Reads unit files back the way systemd does, written from systemd.syntax(7) and
// systemd.service(5) "Command lines" independently of src/export: sections and keys,
// line continuation, quoting with C escapes, "%%" specifiers and "$$" on command lines.
// Anything it does not expect qm to write (a variable, another specifier) is an error.

export type UnitFile = Map<string, [string, string][]>

export function parseUnitFile(text: string): UnitFile {
  const sections: UnitFile = new Map()
  let current: [string, string][] | undefined
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`
    const section = /^\[(.+)\]$/.exec(line)
    if (section) {
      current = []
      sections.set(section[1]!, current)
      continue
    }
    const eq = line.indexOf('=')
    if (eq < 0 || !current) throw new Error(`not a key=value line: ${line}`)
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()])
  }
  return sections
}

export function values(unit: UnitFile, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v)
}

export function value(unit: UnitFile, section: string, key: string): string {
  const found = values(unit, section, key)
  if (found.length !== 1) throw new Error(`expected one ${key}= in [${section}], found ${found.length}`)
  return found[0]!
}

/** Expands the one specifier qm writes, "%%"; `allowed` lists others to keep as they are (e.g. "i"). */
export function expandSpecifiers(text: string, allowed: string[] = []): string {
  return text.replace(/%(.)/g, (whole, letter: string) => {
    if (letter === '%') return '%'
    if (allowed.includes(letter)) return whole
    throw new Error(`unexpected specifier ${whole} in ${text}`)
  })
}

const SIMPLE_ESCAPES: Record<string, string> = {a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'", s: ' '}

/** Splits at unquoted whitespace, removing quotes and resolving C escapes (extract_first_word with UNQUOTE|CUNESCAPE). */
export function splitWords(text: string): string[] {
  const words: string[] = []
  let i = 0
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const escape = (): string => {
    const next = text[i + 1]
    if (next === undefined) throw new Error(`trailing backslash in ${text}`)
    if (SIMPLE_ESCAPES[next] !== undefined) {
      i += 2
      return SIMPLE_ESCAPES[next]!
    }
    const forms: [RegExp, number][] = [[/^x([0-9a-fA-F]{2})/, 16], [/^u([0-9a-fA-F]{4})/, 16], [/^U([0-9a-fA-F]{8})/, 16], [/^([0-7]{3})/, 8]]
    for (const [form, radix] of forms) {
      const match = form.exec(text.slice(i + 1))
      if (match) {
        i += 1 + match[0].length
        return String.fromCodePoint(Number.parseInt(match[1]!, radix))
      }
    }
    throw new Error(`unknown escape \\${next} in ${text}`)
  }
  skipSpace()
  while (i < text.length) {
    let word = ''
    let quote: string | undefined
    while (i < text.length) {
      const char = text[i]!
      if (quote) {
        if (char === quote) {
          quote = undefined
          i++
        } else if (char === '\\') word += escape()
        else {
          word += char
          i++
        }
        continue
      }
      if (/\s/.test(char)) break
      if (char === '"' || char === "'") {
        quote = char
        i++
      } else if (char === '\\') word += escape()
      else {
        word += char
        i++
      }
    }
    if (quote) throw new Error(`unbalanced ${quote} in ${text}`)
    words.push(word)
    skipSpace()
  }
  return words
}

export interface CommandLine {
  /** The special prefixes of the executable: "-" (failure ignored), "@", ":", "+", "!". */
  prefix: string
  argv: string[]
}

/** An Exec*= value as systemd runs it: specifiers, then words, then "$$" → "$" per argument. */
export function parseCommandLine(text: string, allowedSpecifiers: string[] = []): CommandLine {
  const expanded = expandSpecifiers(text, allowedSpecifiers)
  const prefix = /^[-@:+!]*/.exec(expanded)![0]
  if (/(^|\s);(\s|$)/.test(expanded)) throw new Error(`a bare ";" would make two command lines: ${text}`)
  const argv = splitWords(expanded.slice(prefix.length)).map((word) => {
    if (/^\$[A-Za-z_]/.test(word) || /(^|[^$])(\$\$)*\$\{/.test(word)) throw new Error(`unexpected variable in ${word}`)
    return word.replaceAll('$$', '$')
  })
  return {prefix, argv}
}

/** Environment= items as systemd reads them: specifiers, then quoted words of NAME=value. */
export function parseEnvironment(values: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of values) {
    for (const item of splitWords(expandSpecifiers(line))) {
      const eq = item.indexOf('=')
      if (eq <= 0) throw new Error(`not NAME=value: ${item}`)
      env[item.slice(0, eq)] = item.slice(eq + 1)
    }
  }
  return env
}
