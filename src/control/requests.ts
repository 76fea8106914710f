// What each CLI command asks of the daemon, typed. Commands call these and render;
// `qm status` falls back to the recorded state when no daemon answers.
import {expiringCertificates, type ExpiringCertificate} from '../certs/expiry.js'
import {QmError} from '../errors.js'
import type {Manifest} from '../manifest/types.js'
import {unregisterEndpoint} from '../registry/endpoints.js'
import type {Endpoint} from '../registry/store.js'
import {ChildRecords, childRecordsPath} from '../registry/child-records.js'
import {expandInstances, selectInstances} from '../supervisor/instances.js'
import {isSameProcess, processStartTime} from '../supervisor/proc.js'
import {waitUntil} from '../supervisor/process-group.js'
import type {AttemptResult, InstanceStatus} from '../supervisor/states.js'
import {LIVE_STATES, type ServiceState} from '../supervisor/states.js'
import type {RegistryBacklog} from '../supervisor/registry-writes.js'
import type {ReloadReport, StopResult} from '../supervisor/supervisor.js'
import type {ControlClient} from './client.js'
import {connectOrStartDaemon, connectToDaemon} from './connect.js'
import type {ContractEvent, Params, Result} from './contract.js'
import {daemonPaths} from './paths.js'

export type TransitionEvent = ContractEvent

export interface StartReport {
  daemonStarted: boolean
  reload: ReloadReport
  results: AttemptResult[]
}

export interface StatusReport {
  /** Null when no daemon answers: states then come from the records. */
  daemon: {pid: number} | null
  services: InstanceStatus[]
  /** Certificates in use that expire within 30 days, or already have. */
  certificates: ExpiringCertificate[]
  /** is_active changes the daemon could not write yet (the registry out of reach); null without a daemon. */
  registry: RegistryBacklog | null
}

async function withClient<T>(client: ControlClient, work: (client: ControlClient) => Promise<T>): Promise<T> {
  try {
    return await work(client)
  } finally {
    client.close()
  }
}

export async function startServices(manifest: Manifest, names: string[], onTransition: (event: TransitionEvent) => void): Promise<StartReport> {
  const {client, started} = await connectOrStartDaemon(manifest)
  return withClient(client, async (c) => {
    const reply = await c.request('start', {names}, onTransition)
    return {daemonStarted: started, ...reply}
  })
}

type MutationMethod = 'stop' | 'restart' | 'reload'

/** stop, restart and reload need a daemon only if one runs: with none, nothing is running. */
export async function askDaemon<M extends MutationMethod>(manifest: Manifest, method: M, names: string[], onTransition: (event: TransitionEvent) => void): Promise<Result<M> | undefined> {
  const client = await connectToDaemon(manifest)
  if (!client) return undefined
  return withClient(client, (c) => c.request(method, {names} as Params<M>, onTransition))
}

export type StopReport = {results: StopResult[]}
export type RestartReport = {results: AttemptResult[]}
export type ReloadReply = {reload: ReloadReport}

/** Returns once the daemon process has exited, its services stopped unless told otherwise. */
export async function shutdownDaemon(manifest: Manifest, stopServices: boolean): Promise<{pid: number} | undefined> {
  const client = await connectToDaemon(manifest)
  if (!client) return undefined
  const reply = await withClient(client, (c) => c.request('shutdown', {stopServices}))
  if (!(await waitUntil(() => processStartTime(reply.pid) === undefined, SHUTDOWN_WAIT_MS, 10))) {
    throw new QmError(
      `the daemon (pid ${reply.pid}) is still running ${SHUTDOWN_WAIT_MS / 1000}s after it was asked to shut down`,
      1,
      'DAEMON_SHUTDOWN',
      `its log ${daemonPaths(manifest.stateDir).logFile} says what it is waiting for`,
    )
  }
  return reply
}

// Long enough for every service's stop_timeout to pass in the worst case.
const SHUTDOWN_WAIT_MS = 120_000

export async function serviceStatus(manifest: Manifest, names: string[]): Promise<StatusReport> {
  const certificates = expiringCertificates(manifest.services.map((service) => service.certs))
  const client = await connectToDaemon(manifest)
  if (client) {
    const reply = await withClient(client, (c) => c.request('status', {names}))
    return {...reply, certificates, registry: reply.registry ?? null}
  }
  return {daemon: null, services: recordedStatus(manifest, names), certificates, registry: null}
}

/** What the records say, with each recorded process checked against the kernel. */
function recordedStatus(manifest: Manifest, names: string[]): InstanceStatus[] {
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
      lastLogLine: null,
    })
  }
  return rows
}

/** Refuses while the service runs on this host: its row is how the platform finds it. */
export async function unregisterService(manifest: Manifest, name: string, host?: string): Promise<Endpoint> {
  if (host === undefined || host === manifest.registry.host) {
    const running = (await serviceStatus(manifest, [])).services.find((row) => row.name === name && row.pid !== null)
    if (running) {
      throw new QmError(`${name} is running (pid ${running.pid}); its row is how the platform finds it`, 1, 'SERVICE_RUNNING', `qm stop ${name} first`)
    }
  }
  return unregisterEndpoint(manifest, name, host)
}
