// The files of a new service, read from the package's templates/<language>/ folder with
// their placeholders filled in. Placeholders are identifiers (__SERVICE__, __CLASS__), so
// each template stays a valid Python or TypeScript file that editors and linters can read.
import {readdir, readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {packagePath} from '../package-paths.js'

export const SERVICE_LANGUAGES = ['python', 'typescript'] as const
export type ServiceLanguage = (typeof SERVICE_LANGUAGES)[number]

export interface RenderedFile {
  /** Relative to the service folder, with forward slashes. */
  path: string
  content: string
}

// npm leaves .gitignore files out of a published package, so the template ships without the dot.
const RENAMED: Record<string, string> = {gitignore: '.gitignore'}

/** The proto files every service folder gets a copy of (guide section 12.2: copy the proto). */
export const PROTO_FILES = ['microservice.proto', 'health.proto'] as const

/** The files of a new service; `python` is the interpreter its manifest entry runs, named in its test's instructions. */
export async function renderTemplates(language: ServiceLanguage, name: string, python = '/usr/bin/python3'): Promise<RenderedFile[]> {
  const root = packagePath('templates', language)
  const values = {...(await dependencyVersions()), __SERVICE__: name, __CLASS__: className(name), __PYTHON__: python}
  const files: RenderedFile[] = []
  for (const path of await listFiles(root)) {
    const rel = relative(root, path).split('\\').join('/')
    const base = rel.split('/').at(-1)!
    const target = base in RENAMED ? rel.slice(0, -base.length) + RENAMED[base] : rel
    files.push({path: target, content: fill(await readFile(path, 'utf8'), values)})
  }
  for (const proto of PROTO_FILES) {
    files.push({path: proto, content: await readFile(packagePath('proto', proto), 'utf8')})
  }
  return files.sort((a, b) => a.path.localeCompare(b.path))
}

/** pdf_extractor → PdfExtractor, the guide's servicer class naming. */
export function className(name: string): string {
  return name
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('')
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/__[A-Z][A-Z_]*?[A-Z]__/g, (token) => values[token] ?? token)
}

/**
 * A TypeScript service gets the grpc-js and proto-loader that qm itself is tested with,
 * read from qm's own package.json so the two never drift apart.
 */
async function dependencyVersions(): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(packagePath('package.json'), 'utf8')) as {
    dependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }
  const version = (name: string, fallback: string) => pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? fallback
  return {
    __GRPC_JS_VERSION__: version('@grpc/grpc-js', '^1.14.0'),
    __PROTO_LOADER_VERSION__: version('@grpc/proto-loader', '^0.8.0'),
    __TYPESCRIPT_VERSION__: version('typescript', '^5.9.0'),
    __TYPES_NODE_VERSION__: version('@types/node', '^20.19.0'),
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(path)))
    else if (entry.isFile()) out.push(path)
  }
  return out
}
