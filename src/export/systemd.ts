// `qm export systemd`: checks everything that can refuse the export (names, executables,
// the output folder) before the registry or the disk is touched, then gives each
// instance its registry port and writes the units.
import {join, resolve} from 'node:path'
import {QmError} from '../errors.js'
import type {Manifest, ServiceSpec} from '../manifest/types.js'
import {packagePath} from '../package-paths.js'
import {expandInstances} from '../manifest/instances.js'
import {resolveExecutable, SpawnRefused} from '../supervisor/preflight.js'
import {checkOutputFolder, checkTargets, writeOutputs} from './output.js'
import {registeredPorts} from './ports.js'
import {projectName, selectServices} from './selection.js'
import {detectSystemdHost, type SystemdHost} from './systemd-host.js'
import {buildSystemdUnits, targetName, unitFileNames} from './systemd-units.js'

export interface SystemdExportRequest {
  names: readonly string[]
  /** Default: the manifest's .qm/systemd. */
  outDir?: string
  user: boolean
  /** User= of system units; default: the user running the export, none (root) for root. */
  userName?: string
  /** The project name in unit names; default from the manifest. */
  project?: string
  force: boolean
  cwd: string
  env: NodeJS.ProcessEnv
  /** Detected from this host unless given. */
  host?: SystemdHost
}

export interface SystemdExportResult {
  outDir: string
  target: string
  files: string[]
  systemdVersion: number | null
  /** System units with no User=: the services would run as root. */
  runsAsRoot: boolean
}

export async function exportSystemd(manifest: Manifest, req: SystemdExportRequest): Promise<SystemdExportResult> {
  const services = selectServices(manifest, req.names)
  const executables = new Map(services.map((service) => [service.name, executableOf(service, req.env)]))
  const outDir = resolve(req.cwd, req.outDir ?? join(manifest.stateDir, 'systemd'))
  const host = req.host ?? detectSystemdHost(req.env)
  const project = projectName(manifest, req.project)
  checkOutputFolder(outDir)
  // Unit names are known before the ports are, so a refusal comes before any registry write.
  checkTargets(unitFileNames(project, services).map((name) => join(outDir, name)), req.force)

  const instances = expandInstances(services)
  const ports = await registeredPorts(manifest, instances.map(({name, service}) => ({name, service})))
  const units = buildSystemdUnits({
    manifest,
    services,
    ports,
    executables,
    qm: [process.execPath, packagePath('bin', 'run.js')],
    project,
    user: req.user,
    systemctl: host.systemctl,
    ...(host.version === undefined ? {} : {systemdVersion: host.version}),
    ...((req.userName ?? host.user) === undefined ? {} : {runAs: (req.userName ?? host.user)!}),
  })
  writeOutputs(units.map((unit) => ({path: join(outDir, unit.name), text: unit.text})))
  const runAs = req.user ? undefined : (req.userName ?? host.user)
  return {outDir, target: targetName(project), files: units.map((unit) => unit.name), systemdVersion: host.version ?? null, runsAsRoot: !req.user && runAs === undefined}
}

/** The absolute executable qm would spawn; a unit is only as good as the path baked into it. */
function executableOf(service: ServiceSpec, env: NodeJS.ProcessEnv): string {
  try {
    return resolveExecutable(service.name, service, env)
  } catch (error) {
    if (!(error instanceof SpawnRefused)) throw error
    throw new QmError(`${service.name}: ${error.message}`, 1, error.code, error.hint)
  }
}
