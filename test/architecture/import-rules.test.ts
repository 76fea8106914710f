// Holds the code to ARCHITECTURE.md: every import of src/ (static, dynamic, and type-only)
// is read as text and checked against the parts' allowed directions and the imports that
// must never exist. A rule that changes, changes there and here together.
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, normalize, relative} from 'node:path'
import {describe, expect, it} from 'vitest'
import {REPO} from '../helpers/services.js'

const SRC = join(REPO, 'src')
const BASE = new Set(['errors.ts', 'error-codes.ts', 'closest-word.ts', 'package-paths.ts', 'sha256-hex.ts', 'utc-time.ts'])

/** What each part may import besides the base and itself. */
const ALLOWED: Record<string, readonly string[] | 'anything'> = {
  net: [],
  manifest: [],
  registry: ['manifest', 'net'],
  certs: ['manifest'],
  grpc: ['manifest', 'net', 'registry'],
  health: ['grpc', 'manifest', 'net', 'registry'],
  call: ['grpc', 'health', 'manifest', 'registry'],
  fleet: ['grpc', 'health', 'manifest', 'registry'],
  supervisor: ['certs', 'grpc', 'health', 'manifest', 'net', 'registry'],
  control: ['supervisor', 'certs', 'manifest', 'registry'],
  daemon: ['control', 'supervisor', 'certs', 'manifest', 'registry'],
  doctor: ['control', 'supervisor', 'certs', 'manifest', 'net', 'registry'],
  export: ['supervisor', 'registry', 'manifest'],
  scaffold: ['manifest', 'registry'],
  ui: ['supervisor', 'certs', 'doctor', 'control', 'registry', 'grpc', 'health', 'manifest', 'fleet'],
  cli: ['ui', 'manifest', 'control', 'registry', 'supervisor', 'fleet', 'certs', 'net', 'daemon'],
  commands: 'anything',
}
/** Parts that may import these only as types. */
const TYPES_ONLY: Record<string, readonly string[]> = {ui: ['supervisor', 'certs', 'doctor', 'control', 'registry', 'grpc', 'health', 'manifest', 'fleet']}
const PACKAGES_ONLY_IN: Record<string, readonly string[]> = {
  '@oclif/core': ['commands', 'cli'],
  chalk: ['ui'],
  listr2: ['ui'],
}
const MAY_PRINT = new Set(['commands', 'cli', 'ui'])
const PROCESS_ENTRIES = new Set(['daemon/daemon-main.ts'])

interface Import {
  file: string
  part: string
  spec: string
  typeOnly: boolean
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

function partOf(file: string): string {
  const rel = relative(SRC, file)
  return rel.includes('/') ? rel.split('/')[0]! : BASE.has(rel) ? 'base' : `(unplaced ${rel})`
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8')
  const found: Import[] = []
  const statement = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm
  for (const match of text.matchAll(statement)) {
    const spec = match[3] ?? match[4]!
    found.push({file: relative(SRC, file), part: partOf(file), spec, typeOnly: match[2] !== undefined})
  }
  return found
}

function targetPart(imp: Import): string | undefined {
  if (!imp.spec.startsWith('.')) return undefined
  const target = normalize(join(dirname(join(SRC, imp.file)), imp.spec)).replace(/\.js$/, '.ts')
  return partOf(target)
}

const files = sourceFiles(SRC)
const imports = files.flatMap(importsOf)

describe('the import rules of ARCHITECTURE.md', () => {
  it('places every file of src/ in a part the map names', () => {
    const parts = new Set(files.map(partOf))
    expect([...parts].filter((part) => part !== 'base' && !(part in ALLOWED))).toEqual([])
  })

  it('has every part import only the parts below it', () => {
    const broken = imports.flatMap((imp) => {
      const to = targetPart(imp)
      if (to === undefined || to === 'base' || to === imp.part) return []
      const allowed = ALLOWED[imp.part]
      if (imp.part === 'base') return [`${imp.file} → ${imp.spec}: the base imports nothing of qm`]
      if (allowed === 'anything' || allowed?.includes(to)) return []
      return [`${imp.file} → ${imp.spec}: ${imp.part} may not import ${to}`]
    })
    expect(broken).toEqual([])
  })

  it('has ui import the core only as types', () => {
    const broken = imports.flatMap((imp) => {
      const to = targetPart(imp)
      const typesOnly = TYPES_ONLY[imp.part]
      return to !== undefined && typesOnly?.includes(to) && !imp.typeOnly ? [`${imp.file} → ${imp.spec}`] : []
    })
    expect(broken).toEqual([])
  })

  it('has the commands ask the daemon what it will do, never import the supervisor to guess', () => {
    // Logs are files the commands read themselves; everything else of the supervisor's
    // comes over the contract (the plan, the states), so only types may be imported.
    const READ_DIRECTLY = new Set(['supervisor/log-files.ts', 'supervisor/log-view.ts'])
    const broken = imports.flatMap((imp) => {
      if (imp.part !== 'commands' || targetPart(imp) !== 'supervisor' || imp.typeOnly) return []
      const target = relative(SRC, normalize(join(dirname(join(SRC, imp.file)), imp.spec)).replace(/\.js$/, '.ts'))
      return READ_DIRECTLY.has(target) ? [] : [`${imp.file} → ${imp.spec}`]
    })
    expect(broken).toEqual([])
  })

  it('keeps oclif, chalk and listr2 in the parts that may know a terminal', () => {
    const broken = imports.flatMap((imp) => {
      const only = PACKAGES_ONLY_IN[imp.spec]
      return only && !only.includes(imp.part) ? [`${imp.file} imports ${imp.spec}`] : []
    })
    expect(broken).toEqual([])
  })

  it('has nothing below the commands print or exit, but the daemon’s process entry', () => {
    const printing = /process\.exit\(|process\.(stdout|stderr)\.write\(|console\.(log|error|warn|info)\(/
    const broken = files
      .filter((file) => !MAY_PRINT.has(partOf(file)) && !PROCESS_ENTRIES.has(relative(SRC, file)))
      .filter((file) => printing.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file))
    expect(broken).toEqual([])
  })

  it('reads the imports it checks: the map above is not empty', () => {
    expect(imports.length).toBeGreaterThan(300)
    expect(imports.some((imp) => imp.spec === '@oclif/core')).toBe(true)
  })
})
