// Each service's executable found and runnable, as the supervisor checks it before a spawn,
// and for a Python service whether its interpreter can `import grpc`: a service built to
// the guide needs grpcio, and without it dies at its first line with only a traceback.
// A service that generates its stubs at start-up also needs grpc_tools and pkg_resources,
// which Debian 12's python3-grpc-tools imports without depending on its package.
import {readFileSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import type {ServiceSpec} from '../manifest/types.js'
import {resolveExecutable} from '../supervisor/preflight.js'
import {check, type DoctorCheck} from './report.js'

export const IMPORT_TIMEOUT_MS = 5000

export function isPythonCommand(program: string): boolean {
  return /^python/.test(basename(program))
}

interface ImportOutcome {
  ok: boolean
  detail: string
}

/** What to install when a module is missing: Debian's package for /usr/bin/python3, else pip's. */
const MODULE_PACKAGES: Record<string, {debian: string; pip: string}> = {
  grpc: {debian: 'python3-grpcio', pip: 'grpcio'},
  grpc_tools: {debian: 'python3-grpc-tools', pip: 'grpcio-tools'},
  pkg_resources: {debian: 'python3-pkg-resources', pip: 'setuptools'},
}

export async function checkExecutables(services: readonly ServiceSpec[], env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  if (services.length === 0) return check('executables', 'OK', 'the manifest has no services')
  // Findings in manifest order; a Python interpreter's import is reported at its first service.
  const findings: Promise<{problem?: string; fix?: string; python?: string} | undefined>[] = []
  const imports = new Map<string, {services: string[]}>()
  for (const service of services) {
    let path: string
    try {
      path = resolveExecutable(service.name, service, env)
    } catch (error) {
      const hint = (error as {hint?: string}).hint
      findings.push(Promise.resolve({problem: `${service.name}: ${(error as Error).message}`, ...(hint ? {fix: `${service.name}: ${hint}`} : {})}))
      continue
    }
    if (!isPythonCommand(service.command[0]!)) continue
    // One run per interpreter and environment: forty services on one python3 cost one import.
    const modules = generatesStubsAtStart(service) ? ['grpc', 'pkg_resources', 'grpc_tools.protoc'] : ['grpc']
    const key = JSON.stringify([path, service.cwd, service.env, modules])
    const known = imports.get(key)
    if (known) {
      known.services.push(service.name)
      continue
    }
    const group = {services: [service.name]}
    imports.set(key, group)
    findings.push(
      importModules(path, service, modules).then(({ok, detail}) => {
        const names = group.services.join(', ')
        const what = modules.length === 1 ? 'grpc' : 'grpc, pkg_resources and grpc_tools'
        if (ok) return {python: `${path} imports ${what === 'grpc' ? `grpc ${detail}` : `${what} (grpc ${detail})`} (${names})`}
        const missing = /No module named '([^'.]+)/.exec(detail)?.[1]
        const packages = MODULE_PACKAGES[missing ?? 'grpc'] ?? MODULE_PACKAGES.grpc!
        return {
          problem: `${names}: ${path} cannot import ${what}: ${detail}`,
          fix: `install ${packages.pip} for ${path}: apt-get install ${packages.debian} for Debian's /usr/bin/python3, else ${path} -m pip install ${packages.pip}`,
        }
      }),
    )
  }
  const done = (await Promise.all(findings)).filter((finding) => finding !== undefined)
  const problems = done.flatMap((finding) => (finding.problem ? [finding.problem] : []))
  const fixes = done.flatMap((finding) => (finding.fix ? [finding.fix] : []))
  if (problems.length > 0) return check('executables', 'FAIL', problems.join('; '), [...new Set(fixes)].join('\n'))
  const pythons = done.flatMap((finding) => (finding.python ? [finding.python] : []))
  const count = `${services.length} service${services.length === 1 ? '' : 's'}`
  return check('executables', 'OK', `${count}: every executable found and runnable${pythons.length > 0 ? `; ${pythons.join('; ')}` : ''}`)
}

/**
 * Whether the service runs grpc_tools.protoc when it starts, as the examples do: its script
 * or a module beside it or in the guide's ../libs folder names grpc_tools. A script that
 * cannot be read is left to the spawn's own checks.
 */
export function generatesStubsAtStart(service: ServiceSpec): boolean {
  const script = service.command.slice(1).find((arg) => arg.endsWith('.py'))
  if (script === undefined) return false
  const path = resolve(service.cwd, script)
  const source = readText(path)
  if (source === undefined) return false
  if (IMPORTS_GRPC_TOOLS.test(source)) return true
  const folders = [dirname(path), join(dirname(path), '..', 'libs')]
  const imported = [...source.matchAll(/^\s*(?:from\s+(\w+)\s+import|import\s+(\w+))/gm)].map((m) => m[1] ?? m[2]!)
  return imported.some((module) => folders.some((folder) => IMPORTS_GRPC_TOOLS.test(readText(join(folder, `${module}.py`)) ?? '')))
}

const IMPORTS_GRPC_TOOLS = /^\s*(?:from|import)\s+grpc_tools\b/m

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    // Not there or not readable: nothing to learn from it here.
    return undefined
  }
}

async function importModules(interpreter: string, service: ServiceSpec, modules: readonly string[]): Promise<ImportOutcome> {
  const {execa} = await import('execa')
  const imports = modules.map((module) => `import ${module}`).join('; ')
  const result = await execa(interpreter, ['-c', `${imports}; import sys; sys.stdout.write(grpc.__version__)`], {
    cwd: service.cwd,
    env: service.env,
    extendEnv: true,
    stdin: 'ignore',
    reject: false,
    timeout: IMPORT_TIMEOUT_MS,
  })
  if (result.timedOut) return {ok: false, detail: `no answer within ${IMPORT_TIMEOUT_MS / 1000} s`}
  if (result.exitCode === 0) return {ok: true, detail: String(result.stdout).trim()}
  const lastLine = String(result.stderr).trim().split('\n').at(-1)
  return {ok: false, detail: lastLine || result.shortMessage || `exit code ${result.exitCode}`}
}
