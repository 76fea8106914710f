// `qm new`: the guide's section 12.2 steps done for the operator. Every check (name, folder,
// manifest, registry, Python's gRPC) runs before the first write; the writes then follow
// in order (registry row, files, stubs or npm build, manifest last), each recorded so that
// a failure part-way removes what was written and leaves things as they were.
import {existsSync} from 'node:fs'
import {mkdir, readFile, rename, rm, writeFile} from 'node:fs/promises'
import {dirname, isAbsolute, join, relative, resolve} from 'node:path'
import {ManifestError, NameTakenError, PortTakenError, QmError, UsageError, type ErrorCode} from '../errors.js'
import {findManifest} from '../manifest/find.js'
import {parseManifestText} from '../manifest/load.js'
import type {Manifest} from '../manifest/types.js'
import {assertServiceName, registerEndpoint} from '../registry/endpoints.js'
import {withEndpointStore} from '../registry/open.js'
import type {Endpoint} from '../registry/store.js'
import {addServiceEntry, minimalManifest, type ServiceEntry} from './manifest-entry.js'
import {renderTemplates, SERVICE_LANGUAGES, type ServiceLanguage} from './templates.js'
import {checkPythonGrpc, generatePythonStubs, installAndBuild} from './toolchain.js'

export {SERVICE_LANGUAGES, type ServiceLanguage}

export const DEFAULT_SERVICE_DIR = 'ms'
export const DEFAULT_PYTHON = '/usr/bin/python3'
/** The version a new service starts at, in its SERVICE_VERSION and the manifest's expected_version. */
export const INITIAL_VERSION = '1.0.0'

export interface NewServiceRequest {
  name: string
  language: ServiceLanguage
  /** The folder that holds service folders, relative to the manifest's folder (default ms). */
  dir?: string
  /** A fixed port instead of the lowest free one. */
  port?: number
  /** TypeScript: run npm install and npm run build (default true). */
  install?: boolean
  /** Python: the interpreter in the manifest's command and for the stubs (default /usr/bin/python3). */
  python?: string
  manifestFlag?: string
  env: NodeJS.ProcessEnv
  cwd: string
  /** Told of each slow step before it starts (npm install takes seconds). */
  onStep?: (step: string) => void
}

export interface NewServiceResult {
  name: string
  language: ServiceLanguage
  /** Absolute path of the new service folder. */
  folder: string
  /** Absolute paths of every file written: templates first, then generated stubs or build output (node_modules left out). */
  files: string[]
  /** How to run the service's unit test, in its folder, with the interpreter its manifest entry uses. */
  testCommand: string[]
  manifest: string
  manifestCreated: boolean
  command: string[]
  endpoint: Endpoint
  installed: boolean
  /** The certificate folder the service will be started with, and whether it still lacks ca.crt. */
  certsDir: string
  certsMissing: boolean
  elapsedMs: number
}

export class ScaffoldError extends QmError {
  constructor(message: string, code: ErrorCode, hint?: string, options?: ErrorOptions) {
    super(message, 1, code, hint, options)
  }
}

export async function createService(req: NewServiceRequest): Promise<NewServiceResult> {
  const startedMs = performance.now()
  const plan = await planService(req)
  const undo = new UndoLog()
  try {
    // A manifest named by -f may live in a folder that does not exist yet.
    undo.push(await makeFolder(dirname(plan.manifestFile)))
    // Pushed early so it runs late: a registry this command created goes once its row is gone.
    undo.push(() => Promise.all(plan.newRegistryPaths.map((path) => rm(path, {recursive: true, force: true}))).then(() => {}))
    const {endpoint, created} = await registerFirst(plan, req)
    if (created) undo.push(() => withEndpointStore(plan.manifest.registry, (store) => store.unregister(req.name, endpoint.host)).then(() => {}))

    undo.push(await makeFolder(plan.folder))
    const files: string[] = []
    for (const file of await renderTemplates(req.language, req.name, plan.python)) {
      const path = join(plan.folder, ...file.path.split('/'))
      await mkdir(dirname(path), {recursive: true})
      await writeFile(path, file.content, {flag: 'wx'})
      files.push(path)
    }
    let installed = false
    if (req.language === 'python') {
      await generatePythonStubs(plan.python, plan.folder)
    } else if (req.install ?? true) {
      await installAndBuild(plan.folder, (step) => req.onStep?.(`${step} in ${displayPath(plan.folder, req.cwd)}`))
      installed = true
    }
    await assertManifestUnchanged(plan)
    await writeAtomically(plan.manifestFile, plan.manifestText)
    // Every file the folder now holds: the generated stubs and the build output too, not node_modules.
    const written = [...files, ...(await listFolder(plan.folder)).filter((path) => !files.includes(path)).sort()]
    return {
      name: req.name,
      language: req.language,
      folder: plan.folder,
      files: written,
      testCommand: req.language === 'python' ? [plan.python, '-m', 'unittest'] : ['npm', 'test'],
      manifest: plan.manifestFile,
      manifestCreated: plan.manifestCreated,
      command: plan.entry.command,
      endpoint,
      installed,
      certsDir: plan.certsDir,
      certsMissing: !existsSync(join(plan.certsDir, 'ca.crt')),
      elapsedMs: Math.round(performance.now() - startedMs),
    }
  } catch (err) {
    const leftOver = await undo.run()
    if (leftOver.length > 0 && err instanceof QmError) {
      throw new QmError(err.message, err.exitCode, err.code, `${err.hint ? `${err.hint}; ` : ''}could not undo everything: ${leftOver.join('; ')}`, {cause: err})
    }
    throw err
  }
}

interface ServicePlan {
  manifestFile: string
  manifestCreated: boolean
  /** The manifest as it will be, already validated; its registry settings are the ones used. */
  manifest: Manifest
  manifestText: string
  /** The manifest's text when it was read; undefined when it did not exist. */
  originalText?: string
  folder: string
  entry: ServiceEntry
  python: string
  certsDir: string
  /** Registry files that do not exist yet, removed again if the service cannot be made. */
  newRegistryPaths: string[]
}

/** Everything that can refuse the request, with nothing written. */
async function planService(req: NewServiceRequest): Promise<ServicePlan> {
  assertServiceName(req.name)
  if (!(SERVICE_LANGUAGES as readonly string[]).includes(req.language)) {
    throw new UsageError(`unknown language "${req.language}"`, `use one of ${SERVICE_LANGUAGES.join(', ')}`)
  }
  const {file: manifestFile, text: currentText} = await locateManifest(req)
  const manifestDir = dirname(manifestFile)
  const shownManifest = displayPath(manifestFile, req.cwd)
  if (currentText !== undefined) {
    const current = await parseManifestText(manifestFile, currentText, {env: req.env, cwd: req.cwd})
    if (current.services.some((service) => service.name === req.name)) {
      throw new NameTakenError(`${req.name} is already a service in ${shownManifest}`, 'choose another name')
    }
  }

  const dir = req.dir ?? DEFAULT_SERVICE_DIR
  if (dir.trim() === '') throw new UsageError('--dir must name a folder', `e.g. --dir ${DEFAULT_SERVICE_DIR}`)
  const folder = resolve(manifestDir, dir, req.name)
  if (existsSync(folder)) {
    throw new ScaffoldError(`${displayPath(folder, req.cwd)} already exists`, 'FOLDER_EXISTS', 'choose another name, or move that folder away')
  }

  // The command is relative to the manifest's folder, where qm starts services by default.
  const serviceRel = isAbsolute(dir) ? folder : [...dir.split(/[\\/]+/).filter((part) => part !== '' && part !== '.'), req.name].join('/')
  const python = req.python ?? DEFAULT_PYTHON
  const entry: ServiceEntry =
    req.language === 'python'
      ? {command: [python, `${serviceRel}/server.py`], env: {PYTHONUNBUFFERED: '1'}, expected_version: INITIAL_VERSION}
      : {command: ['node', `${serviceRel}/dist/server.js`], expected_version: INITIAL_VERSION}
  const manifestText = currentText === undefined ? minimalManifest(req.name, entry) : addServiceEntry(currentText, req.name, entry)
  const manifest = await parseManifestText(manifestFile, manifestText, {env: req.env, cwd: req.cwd})
  const spec = manifest.services.find((service) => service.name === req.name)!

  if (req.port !== undefined) {
    const [first, last] = manifest.portRange
    if (!Number.isInteger(req.port) || req.port < first || req.port > last) {
      throw new UsageError(`port ${req.port} is outside ${first}-${last}`, 'choose a port in port_range, or leave out --port')
    }
  }
  // Read only when the registry exists: opening it would create it, and this is still the checking.
  // A PostgreSQL registry is a shared server's table, read whether or not qm made it.
  if (manifest.registry.kind === 'postgres' || existsSync(manifest.registry.path)) {
    const host = manifest.registry.host
    const rows = await withEndpointStore(manifest.registry, (store) => store.list(host))
    const mine = rows.find((row) => row.name === req.name)
    if (mine) {
      throw new NameTakenError(
        `${req.name} is already registered on port ${mine.port} (host ${host})`,
        `choose another name, or run "qm unregister ${req.name}" if that row is left over`,
      )
    }
    const holder = req.port === undefined ? undefined : rows.find((row) => row.port === req.port)
    if (holder) {
      throw new PortTakenError(`port ${req.port} is already registered to ${holder.name} (host ${host})`, 'leave out --port to get the lowest free port')
    }
  }
  if (req.language === 'python') await checkPythonGrpc(python)

  const registryFile = manifest.registry.kind === 'sqlite' ? manifest.registry.path : undefined
  const registryPaths = registryFile === undefined ? [] : ['', '-wal', '-shm'].map((suffix) => `${registryFile}${suffix}`)
  return {
    manifestFile,
    manifestCreated: currentText === undefined,
    manifest,
    manifestText,
    ...(currentText === undefined ? {} : {originalText: currentText}),
    folder,
    entry,
    python,
    certsDir: spec.certs.dir,
    newRegistryPaths: [registryFile === undefined ? undefined : firstMissingAncestor(dirname(registryFile)), ...registryPaths].filter(
      (path): path is string => path !== undefined && !existsSync(path),
    ),
  }
}

/** The manifest qm would use, and its text; a manifest that does not exist yet is created where it was asked for, or here. */
async function locateManifest(req: NewServiceRequest): Promise<{file: string; text?: string}> {
  const named = req.manifestFlag ?? (req.env.QM_MANIFEST ? req.env.QM_MANIFEST : undefined)
  let file: string
  try {
    file = findManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd})
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err
    const wanted = named === undefined ? join(req.cwd, 'services.yaml') : resolve(req.cwd, named)
    if (existsSync(wanted)) throw err
    return {file: wanted}
  }
  try {
    return {file, text: await readFile(file, 'utf8')}
  } catch (err) {
    throw new ManifestError(`cannot read manifest ${file}: ${(err as Error).message}`, undefined, {cause: err})
  }
}

async function registerFirst(plan: ServicePlan, req: NewServiceRequest): Promise<{endpoint: Endpoint; created: boolean}> {
  // Inactive until it runs: qm start marks a row active once its service is healthy.
  const outcome = await registerEndpoint(plan.manifest, {name: req.name, active: false, ...(req.port === undefined ? {} : {port: req.port})})
  if (!outcome.created) {
    // Another writer registered the name between the check and now.
    throw new NameTakenError(`${req.name} is already registered on port ${outcome.endpoint.port} (host ${outcome.endpoint.host})`, 'choose another name')
  }
  return outcome
}

/** Creates the folder and any missing parents; the undo step removes exactly what was created. */
async function makeFolder(folder: string): Promise<() => Promise<void>> {
  const top = firstMissingAncestor(folder)
  if (top === undefined) return async () => {}
  await mkdir(folder, {recursive: true})
  return () => rm(top, {recursive: true, force: true})
}

function firstMissingAncestor(path: string): string | undefined {
  let missing: string | undefined
  for (let dir = path; !existsSync(dir); dir = dirname(dir)) {
    missing = dir
    if (dirname(dir) === dir) break
  }
  return missing
}

// npm install takes seconds; an edit made meanwhile must not be overwritten by the old text plus the entry.
async function assertManifestUnchanged(plan: ServicePlan): Promise<void> {
  const now = await readFile(plan.manifestFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (now !== plan.originalText) {
    throw new ScaffoldError(
      `${plan.manifestFile} changed while the service was being made`,
      'MANIFEST_CHANGED',
      'run qm new again; what it had written has been removed',
    )
  }
}

// A reader (or a supervisor watching the file) never sees half a manifest.
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`
  await writeFile(temp, text)
  try {
    await rename(temp, file)
  } catch (err) {
    await rm(temp, {force: true})
    throw err
  }
}

/** Steps that reverse the writes made so far, run newest first. */
class UndoLog {
  private readonly steps: (() => Promise<void>)[] = []

  push(step: () => Promise<void>): void {
    this.steps.push(step)
  }

  /** Runs every step even when one fails; returns what could not be undone. */
  async run(): Promise<string[]> {
    const failures: string[] = []
    for (const step of this.steps.reverse()) {
      try {
        await step()
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
    return failures
  }
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}

async function listFolder(folder: string): Promise<string[]> {
  const {readdir} = await import('node:fs/promises')
  const entries = await readdir(folder, {recursive: true, withFileTypes: true})
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !/\/(node_modules|__pycache__)\//.test(path))
}
