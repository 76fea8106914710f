// The parsed YAML document kept beside its line counter, so that every later pass
// (interpolation, schema, cross-field checks) can point at file:line:column.
import {relative} from 'node:path'
import {isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node} from 'yaml'
import {ManifestError} from '../errors.js'

export type FieldPath = readonly (string | number)[]

export class ManifestSource {
  private constructor(
    readonly file: string,
    readonly displayName: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string, cwd: string): ManifestSource {
    const lines = new LineCounter()
    const doc = parseDocument(text, {lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: false})
    const rel = relative(cwd, file)
    const displayName = rel && !rel.startsWith('..') ? rel : file
    const source = new ManifestSource(file, displayName, doc, lines)
    const problem = doc.errors[0] ?? doc.warnings[0]
    if (problem) {
      const {line, col} = lines.linePos(problem.pos[0])
      throw new ManifestError(`${displayName}:${line}:${col}: ${describeYamlError(problem.code, problem.message)}`)
    }
    if (doc.contents === null) {
      throw new ManifestError(`${displayName}:1:1: the manifest is empty; expected a mapping with version and services`)
    }
    if (!isMap(doc.contents)) {
      throw source.error([], 'the manifest must be a mapping with version and services')
    }
    return source
  }

  /** The node at a path, or the nearest ancestor that exists. */
  nodeAt(path: FieldPath): Node | null {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.doc.getIn(path.slice(0, depth), true)
      if (node && typeof node === 'object' && 'range' in node) return node as Node
    }
    return this.doc.contents
  }

  /** The key node of the last segment of path (for unknown fields and bad names). */
  keyAt(path: FieldPath): Node | null {
    const parent = this.doc.getIn(path.slice(0, -1), true)
    const last = path.at(-1)
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isPair(pair) && isScalar(pair.key) && pair.key.value === last) return pair.key
      }
    }
    return this.nodeAt(path)
  }

  position(node: Node | null): string {
    const offset = node?.range?.[0] ?? 0
    const {line, col} = this.lines.linePos(offset)
    return `${this.displayName}:${line}:${col}`
  }

  error(path: FieldPath, message: string, hint?: string, options: {atKey?: boolean} = {}): ManifestError {
    const node = options.atKey ? this.keyAt(path) : this.nodeAt(path)
    const field = path.length > 0 ? `${dotted(path)}: ` : ''
    return new ManifestError(`${this.position(node)}: ${field}${message}`, hint)
  }
}

export function dotted(path: FieldPath): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('')
}

function describeYamlError(code: string, message: string): string {
  const text = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
  if (code === 'DUPLICATE_KEY') return 'this key appears twice in the same mapping; each may appear once'
  return `invalid YAML: ${text}`
}
