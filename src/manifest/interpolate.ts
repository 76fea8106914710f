// ${VAR} substitution in string values, with docker compose's rules: ${VAR:-default}
// when unset or empty, ${VAR-default} when unset, ${VAR:?message} / ${VAR?message} to
// demand a variable, $VAR, and $$ for a literal dollar. Keys are never interpolated.
import {isScalar, parse as parseYamlScalar, Scalar, visit} from 'yaml'
import type {FieldPath, ManifestSource} from './source.js'

const PATTERN = /\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*$)|)/g
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*)|(:?\?)(.*))?$/s

export function interpolate(source: ManifestSource, env: NodeJS.ProcessEnv): void {
  visit(source.doc, {
    Scalar(key, node, ancestry) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return
      const path = pathOf(ancestry, node)
      const replaced = substitute(node.value, env, (message, hint) => source.error(path, message, hint))
      // An unquoted value that became a number or boolean is typed as YAML would type it,
      // so `port: ${PORT}` gives a number; a quoted value stays a string.
      node.value = node.type === Scalar.PLAIN ? retype(replaced) : replaced
    },
  })
}

type Fail = (message: string, hint?: string) => Error

export function substitute(text: string, env: NodeJS.ProcessEnv, fail: Fail): string {
  return text.replace(PATTERN, (match, dollar: string, braced: string, bare: string, unclosed: string) => {
    if (dollar) return '$'
    if (bare) return env[bare] ?? ''
    if (unclosed !== undefined) throw fail(`"${match}" has no closing brace`, 'write ${NAME}, or $$ for a literal dollar sign')
    if (braced === undefined) throw fail(`a lone "$" must be written as $$`, 'write $$ for a literal dollar sign')
    const parts = BRACED.exec(braced)
    if (!parts) throw fail(`"\${${braced}}" is not a valid variable reference`, 'write ${NAME}, ${NAME:-default} or ${NAME:?message}')
    const [, name, defaultOp, defaultValue, requireOp, requireMessage] = parts as unknown as [string, string, string?, string?, string?, string?]
    const value = env[name]
    const missing = value === undefined || ((defaultOp ?? requireOp)?.startsWith(':') === true && value === '')
    if (!missing) return value
    if (defaultOp) return defaultValue ?? ''
    if (requireOp) throw fail(`variable ${name} is required: ${requireMessage || 'not set'}`, `set ${name} in the environment`)
    if (value === undefined) {
      throw fail(`variable ${name} is not set and has no default`, `set ${name} in the environment or write \${${name}:-default}`)
    }
    return value
  })
}

function retype(text: string): unknown {
  if (text.trim() === '') return text
  try {
    const value: unknown = parseYamlScalar(text)
    return typeof value === 'number' || typeof value === 'boolean' ? value : text
  } catch {
    // Not a YAML scalar on its own (e.g. "a: b: c"): it stays the string it is.
    return text
  }
}

function pathOf(ancestry: readonly unknown[], node: unknown): FieldPath {
  const path: (string | number)[] = []
  const chain = [...ancestry, node]
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i] as {items?: unknown[]; key?: unknown}
    const child = chain[i + 1]
    if (parent && typeof parent === 'object' && 'key' in parent && 'value' in parent) {
      const key = parent.key
      if (isScalar(key)) path.push(key.value as string)
    } else if (Array.isArray(parent?.items) && !isPairList(parent.items)) {
      path.push(parent.items.indexOf(child))
    }
  }
  return path
}

function isPairList(items: unknown[]): boolean {
  return items.length > 0 && typeof items[0] === 'object' && items[0] !== null && 'key' in items[0]
}
