// `qm doctor`: every check of the host and the project in one report, in a fixed order.
// Facts several checks share (the daemon's pid, the registry rows, who holds which port)
// are gathered once here; each check module turns its facts into one line.
import type {Manifest} from '../manifest/types.js'
import {findHoldersOfPorts, type PortHolder} from '../net/port-holders.js'
import {reserveCommandIfExposed} from '../net/port-sysctls.js'
import {ChildRecords, StateFileDamaged} from '../registry/child-records.js'
import {isThisHost} from '../registry/port-usage.js'
import {expandInstances} from '../manifest/instances.js'
import {isSameProcess} from '../supervisor/proc.js'
import {childRecordsPath} from '../supervisor/supervisor.js'
import {checkCertificateSets} from './certificates.js'
import {checkDaemonFiles} from './daemon-files.js'
import {checkExecutables} from './executables.js'
import {checkForeignPorts, checkRegistryPorts, type HeldPortsFacts, type ManagedService} from './held-ports.js'
import {checkOpenFiles} from './open-files.js'
import {checkRegistry} from './registry.js'
import {check, type DoctorCheck, type DoctorReport} from './report.js'
import {checkReservedPorts} from './reserved-ports.js'

export interface DoctorOptions {
  env: NodeJS.ProcessEnv
  now?: Date
}

export async function runDoctor(manifest: Manifest, options: DoctorOptions): Promise<DoctorReport> {
  const instances = expandInstances(manifest.services)
  const [daemon, registry, certificates, executables] = await Promise.all([
    checkDaemonFiles(manifest),
    checkRegistry(manifest.registry, manifest.dir),
    checkCertificateSets(manifest, options.env, options.now),
    checkExecutables(manifest.services, options.env),
  ])

  const names = new Set(instances.map((instance) => instance.name))
  const needed = new Map<number, string>()
  for (const instance of instances) {
    if (instance.service.port !== 'auto') needed.set(instance.service.port, `the fixed port of ${instance.name}`)
  }
  for (const row of registry.rows ?? []) {
    if (names.has(row.name) && !needed.has(row.port)) needed.set(row.port, `registered to ${row.name}`)
  }

  const [first, last] = manifest.portRange
  const rowPorts = new Set((registry.rows ?? []).map((row) => row.port))
  let holders: Map<number, PortHolder[]> | undefined
  let tableError: string | undefined
  try {
    holders = findHoldersOfPorts((port) => (port >= first && port <= last) || rowPorts.has(port))
  } catch (error) {
    tableError = (error as Error).message
  }

  let foreignPorts: DoctorCheck
  let registryPorts: DoctorCheck
  if (holders === undefined) {
    foreignPorts = check('foreign-ports', 'WARN', `not checked: ${tableError}`)
    registryPorts = check('registry-ports', 'WARN', `not checked: ${tableError}`)
  } else {
    const facts: HeldPortsFacts = {
      range: manifest.portRange,
      holders,
      managed: managedServices(manifest),
      ...(daemon.daemonPid === undefined ? {} : {daemonPid: daemon.daemonPid}),
      needed,
    }
    const reserve = reserveCommandIfExposed(manifest.portRange)
    if (reserve) facts.reserve = reserve
    foreignPorts = checkForeignPorts(facts)
    registryPorts = checkRegistryPorts(facts, registry.rows, manifest.registry.host, names, isThisHost(manifest.registry.host))
  }

  return {
    checks: [
      checkReservedPorts(manifest.portRange),
      foreignPorts,
      registryPorts,
      daemon.check,
      checkOpenFiles(instances.length, daemon.daemonPid, undefined, manifest.portRange[1] - manifest.portRange[0] + 1),
      certificates,
      executables,
      registry.check,
    ],
  }
}

/** The instances the daemon's records show alive: same pid, same process start time. */
function managedServices(manifest: Manifest): ManagedService[] {
  let records: ChildRecords | undefined
  try {
    records = ChildRecords.openReadOnly(childRecordsPath(manifest))
  } catch (error) {
    // The daemon-files check reports a damaged state file; here it only means no records.
    if (error instanceof StateFileDamaged) return []
    throw error
  }
  if (!records) return []
  try {
    return records
      .all()
      .filter((record) => record.pid !== null && record.startTime !== null && isSameProcess(record.pid, record.startTime))
      .map((record) => ({name: record.name, pid: record.pid!, port: record.port}))
  } finally {
    records.close()
  }
}
