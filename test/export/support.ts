// What the export tests stand on: a project folder with certificates made per run, the
// built CLI run in it, systemd-analyze verify on a folder of units, the registry rows,
// and a unit's command line started by hand the way systemd would start it.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'
import {onTestFinished} from 'vitest'
import {createCertificateSet, writeCertificateSet} from '../../src/certs/issue.js'
import {certPaths} from '../../src/manifest/resolve.js'
import type {CertPaths} from '../../src/manifest/types.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import type {Endpoint} from '../../src/registry/store.js'
import {killGroup} from '../helpers/project.js'
import {runQm, type QmResult} from '../helpers/run-qm.js'
import {tempDir} from '../helpers/temp-dir.js'
import {parseCommandLine, parseEnvironment, parseUnitFile, value, values} from './unit-file.js'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
export const ROOT_MANIFEST = join(REPO, 'services.yaml')

let certs: Awaited<ReturnType<typeof createCertificateSet>> | undefined

export interface ExportProject {
  dir: string
  manifest: string
  qm: (...args: string[]) => Promise<QmResult>
  rows: () => Promise<Endpoint[]>
  /** Every file under the folder, relative, sorted: to show that nothing was written. */
  files: () => string[]
}

/** A temp folder (named `folder` inside it, which becomes the project name) with certs/ and the manifest text. */
export async function exportProject(manifestText: string, folder = 'shop'): Promise<ExportProject> {
  const dir = join(tempDir('qm-export-'), folder)
  mkdirSync(dir, {recursive: true})
  certs ??= await createCertificateSet()
  await writeCertificateSet(join(dir, 'certs'), certs)
  const manifest = join(dir, 'services.yaml')
  writeFileSync(manifest, manifestText)
  return {
    dir,
    manifest,
    qm: (...args) => runQm(args, {cwd: dir}),
    rows: async () => {
      const file = join(dir, '.qm', 'registry.sqlite3')
      if (!existsSync(file)) return []
      const store = SqliteEndpointStore.open(file, 'core_serviceendpoint')
      try {
        return await store.list()
      } finally {
        await store.close()
      }
    },
    // qm's own cache of the resolved manifest is no output of an export: a command that reads
    // a manifest older than two seconds keeps one (src/manifest/cache.ts), refused or not.
    files: () => listFiles(dir).filter((file) => file !== '.qm/manifest-cache.json'),
  }
}

/** The certificate set exportProject wrote, as a manifest resolves it. */
export function certPathsOf(dir: string): CertPaths {
  return certPaths(join(dir, 'certs'))
}

/** The repository's own services.yaml, byte for byte, with dist/ and examples/ linked in so its commands resolve. */
export async function rootManifestProject(): Promise<ExportProject> {
  const project = await exportProject(readFileSync(ROOT_MANIFEST, 'utf8'), 'main')
  for (const folder of ['dist', 'examples']) await execa('ln', ['-s', join(REPO, folder), join(project.dir, folder)])
  return project
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, {withFileTypes: true})
    .flatMap((entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]))
    .sort()
}

/** systemd-analyze verify on every file of the folder at once, so their references resolve. */
export async function verifyUnits(folder: string, options: {user?: boolean} = {}) {
  const files = readdirSync(folder).sort()
  const runtime = tempDir('qm-xdg-')
  const result = await execa('systemd-analyze', [...(options.user ? ['--user'] : []), 'verify', '--man=no', ...files], {
    cwd: folder,
    reject: false,
    env: {SYSTEMD_LOG_COLOR: '0', ...(options.user ? {XDG_RUNTIME_DIR: runtime} : {})},
  })
  return {exitCode: result.exitCode, output: `${result.stdout}${result.stderr}`, files}
}

export interface UnitProcess {
  child: ChildProcess
  argv: string[]
  cwd: string
  env: Record<string, string>
  output: () => string
}

/** What systemd would run for ExecStart=: the parsed argv in WorkingDirectory= with Environment=, its own process group. */
export function startUnitByHand(unitText: string): UnitProcess {
  const unit = parseUnitFile(unitText)
  const {argv} = parseCommandLine(value(unit, 'Service', 'ExecStart'))
  const cwd = value(unit, 'Service', 'WorkingDirectory').replaceAll('%%', '%')
  const env = parseEnvironment(values(unit, 'Service', 'Environment'))
  // systemd's own environment is small: PATH and the unit's Environment=.
  const child = spawn(argv[0]!, argv.slice(1), {cwd, env: {PATH: '/usr/local/bin:/usr/bin:/bin', ...env}, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  onTestFinished(() => {
    if (child.pid !== undefined) killGroup(child.pid)
  })
  return {child, argv, cwd, env, output: () => output}
}

/** Runs an ExecStartPre=/Post=/ExecStopPost= line of a unit as systemd would (argv, WorkingDirectory=, Environment=). */
export async function runUnitCommand(unitText: string, line: string) {
  const unit = parseUnitFile(unitText)
  const {argv} = parseCommandLine(line)
  const result = await execa(argv[0]!, argv.slice(1), {
    cwd: value(unit, 'Service', 'WorkingDirectory').replaceAll('%%', '%'),
    env: {PATH: '/usr/local/bin:/usr/bin:/bin', NO_COLOR: '1', ...parseEnvironment(values(unit, 'Service', 'Environment'))},
    extendEnv: false,
    reject: false,
  })
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}
