// Each service's executable found and runnable, as the supervisor checks it before a spawn,
// and for a Python service whether its interpreter can `import grpc`: a service built to
// the guide needs grpcio, and without it dies at its first line with only a traceback.
import {basename} from 'node:path'
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
    const key = JSON.stringify([path, service.cwd, service.env])
    const known = imports.get(key)
    if (known) {
      known.services.push(service.name)
      continue
    }
    const group = {services: [service.name]}
    imports.set(key, group)
    findings.push(
      importGrpc(path, service).then(({ok, detail}) => {
        const names = group.services.join(', ')
        if (ok) return {python: `${path} imports grpc ${detail} (${names})`}
        return {
          problem: `${names}: ${path} cannot import grpc: ${detail}`,
          fix: `install grpcio for ${path}: apt-get install python3-grpcio for Debian's /usr/bin/python3, else ${path} -m pip install grpcio`,
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

async function importGrpc(interpreter: string, service: ServiceSpec): Promise<ImportOutcome> {
  const {execa} = await import('execa')
  const result = await execa(interpreter, ['-c', 'import grpc, sys; sys.stdout.write(grpc.__version__)'], {
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
