// `qm status` with no daemon: what the records say, each recorded process checked against
// the kernel, by the daemon's own selection rules (an unknown name is a usage error
// either way) and in the daemon's result type.
import {expiringCertificates} from '../certs/expiry.js'
import type {Manifest} from '../manifest/types.js'
import {expandInstances, selectInstances} from '../manifest/instances.js'
import {ChildRecords, childRecordsPath} from '../registry/child-records.js'
import {isSameProcess} from '../supervisor/proc.js'
import {LIVE_STATES, type InstanceStatus, type ServiceState} from '../supervisor/states.js'
import type {StatusResult} from './contract.js'

/** What the records say, with each recorded process checked against the kernel. */
export function recordedStatus(manifest: Manifest, names: string[]): StatusResult {
  const records = ChildRecords.openReadOnly(childRecordsPath(manifest))
  const recorded = new Map((records?.all() ?? []).map((record) => [record.name, record]))
  records?.close()
  const rows: InstanceStatus[] = []
  // The same selection as the daemon's: an unknown name is a usage error either way.
  for (const {name, service} of selectInstances(manifest, expandInstances(manifest.services), names)) {
    const record = recorded.get(name)
    const alive = record?.pid != null && record.startTime != null && isSameProcess(record.pid, record.startTime)
    rows.push({
      name,
      service: service.name,
      state: alive ? 'running' : record && LIVE_STATES.has(record.state as ServiceState) ? 'exited' : ((record?.state ?? 'stopped') as InstanceStatus['state']),
      pid: alive ? record!.pid : null,
      port: record?.port ?? null,
      health: null,
      version: null,
      expectedVersion: service.expectedVersion ?? null,
      uptimeMs: alive && record!.startedAtMs ? Date.now() - record!.startedAtMs : null,
      restarts: record?.restarts ?? 0,
      cpuPercent: null,
      memoryBytes: null,
      lastExit: record && (record.lastExitCode !== null || record.lastExitSignal !== null) ? {code: record.lastExitCode, signal: record.lastExitSignal} : null,
      detail: alive ? 'no daemon watches it' : record?.detail ?? null,
      drainLeftMs: null,
      lastLogLine: null,
    })
  }
  return {daemon: null, services: rows, registry: null, certificates: expiringCertificates(manifest.services.map((service) => service.certs))}
}
