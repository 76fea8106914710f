// When qm's state file is damaged, the daemon moves it aside and rebuilds what it can of
// its records from what the kernel and the registry still know: for each service instance,
// the port its registry row gives, the process the kernel's socket table shows listening
// there, and that process's group leader, if its command line is exactly the argv qm
// spawns for that instance on that port. Such a process is recorded as running, so the
// usual adoption takes it over and nothing starts a second copy; anything less certain is
// left unrecorded, and its port check refuses a start while something else holds the port.
import {readFileSync, renameSync} from 'node:fs'
import {ChildRecords, childRecordsPath, StateFileDamaged} from '../registry/child-records.js'
import type {EndpointStore} from '../registry/store.js'
import {findPortHolders} from '../net/port-holders.js'
import {expandInstances, launchFingerprint, serviceArgv, type ServiceInstance} from '../manifest/instances.js'
import type {Manifest} from '../manifest/types.js'
import {bootTimeMs, processGroupOf, processStartTime, startTimeToEpochMs} from './proc.js'
import {utcTimestamp} from '../utc-time.js'

/** Moves the damaged file (and its WAL companions) aside; returns where it went. */
export function moveAside(file: string, nowMs: number): string {
  const aside = `${file}.damaged-${utcTimestamp(nowMs).replace(/[:.]/g, '-')}`
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      renameSync(`${file}${suffix}`, `${aside}${suffix}`)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  return aside
}

export async function rebuildRecords(
  instances: readonly ServiceInstance[],
  context: {records: ChildRecords; endpoints: EndpointStore; host: string; bootMs: number; nowMs: number},
): Promise<string[]> {
  const found: string[] = []
  for (const instance of instances) {
    const endpoint = await context.endpoints.find(instance.name, context.host)
    if (!endpoint) continue
    const pid = serviceProcess(instance, endpoint.port)
    const startTime = pid === undefined ? undefined : processStartTime(pid)
    if (pid === undefined || startTime === undefined) continue
    context.records.save({
      name: instance.name,
      service: instance.service.name,
      pid,
      startTime,
      port: endpoint.port,
      state: 'running',
      restarts: 0,
      lastExitCode: null,
      lastExitSignal: null,
      stateSinceMs: context.nowMs,
      startedAtMs: startTimeToEpochMs(startTime, context.bootMs),
      fingerprint: launchFingerprint(instance.service, endpoint.port),
      // Unknown after the loss: keeping the row is the safe answer.
      registeredByQm: false,
      detail: 'rebuilt from the kernel and the registry after the state file was damaged',
    })
    found.push(instance.name)
  }
  return found
}

/** The group leader of the port's listener, when it runs exactly this instance's argv. */
function serviceProcess(instance: ServiceInstance, port: number): number | undefined {
  const listener = findPortHolders(port).find((holder) => holder.state === 'LISTEN' && holder.pid !== undefined)
  if (listener?.pid === undefined) return undefined
  const leader = processGroupOf(listener.pid)
  if (leader === undefined) return undefined
  const expected = serviceArgv(instance.service, port).slice(1)
  const argv = readArgv(leader)
  // The executable may be resolved (python3 → /usr/bin/python3); the arguments must be the same.
  if (argv === undefined || argv.length !== expected.length + 1 || argv.slice(1).some((arg, i) => arg !== expected[i])) return undefined
  return leader
}

function readArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').slice(0, -1)
  } catch {
    return undefined // gone meanwhile
  }
}

/** The state file, or, when it is damaged, a new one rebuilt from the kernel's tables and the registry. */
export async function openRecords(manifest: Manifest, endpoints: EndpointStore, warn: (message: string) => void): Promise<ChildRecords> {
  const file = childRecordsPath(manifest)
  try {
    return ChildRecords.open(file)
  } catch (error) {
    if (!(error instanceof StateFileDamaged)) throw error
    const aside = moveAside(file, Date.now())
    const records = ChildRecords.open(file)
    try {
      const found = await rebuildRecords(expandInstances(manifest.services), {records, endpoints, host: manifest.registry.host, bootMs: bootTimeMs(), nowMs: Date.now()})
      warn(`${error.message}; moved it to ${aside} and rebuilt the records of ${found.length} running service(s) from the kernel's tables and the registry${found.length > 0 ? `: ${found.join(', ')}` : ''}`)
    } catch (rebuildError) {
      records.close()
      throw rebuildError
    }
    return records
  }
}
