// `qm health TARGET`: one probe of a service named in the manifest (its port from the
// registry) or of host:port, with the manifest's health settings unless flags say
// otherwise. Like grpc-health-probe, but it speaks the guide's Call as well.
import {resolve} from 'node:path'
import {NotRegisteredError, UsageError} from '../errors.js'
import {parseHostPort, resolveCallTarget, type TargetRequest} from '../grpc/target.js'
import {loadManifest} from '../manifest/load.js'
import {certPaths} from '../manifest/resolve.js'
import type {ProbeType, ServiceSpec} from '../manifest/types.js'
import {assertServiceName} from '../registry/endpoints.js'
import {withEndpointStore} from '../registry/open.js'
import {formatHostPort} from '../grpc/dial-guard.js'
import {clearStreak, failureStreakFile, recordProbe} from './failure-streak.js'
import {probeOnce} from './probe.js'
import {DEFAULT_SERVER_NAME, DEFAULT_VERSION_KEYS} from '../manifest/defaults.js'
import type {ProbeResult, ProbeTarget} from '../grpc/types.js'
import {waitUntilServing} from './wait.js'

export const DEFAULT_HEALTH_TIMEOUT_MS = 2000

export interface HealthRequest extends TargetRequest {
  type?: ProbeType
  timeoutMs?: number
  serverName?: string
  /** Probe again until SERVING or this long has passed, instead of once. */
  waitMs?: number
  /** Count failures in a row of a NAME across runs; the report says when they reach this many. */
  failuresBeforeExit?: number
}

export interface HealthReport extends ProbeResult {
  /** What the operator asked about: a service name or host:port. */
  target: string
  host: string
  port: number
  /** With failuresBeforeExit: failed probes in a row, this one included (0 when SERVING). */
  failuresInRow?: number
}

export async function checkHealth(req: HealthRequest): Promise<HealthReport> {
  if (req.failuresBeforeExit !== undefined && parseHostPort(req.target)) {
    throw new UsageError('--failures-before-exit needs a service NAME, not host:port', 'the count is kept per service beside its manifest')
  }
  const {target, service, stateDir} = await resolveHealthTarget(req)
  const probeTarget = req.serverName === undefined ? target : {...target, serverName: req.serverName}
  const options = {
    type: req.type ?? service?.health.type ?? 'auto',
    timeoutMs: req.timeoutMs ?? service?.health.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    versionKeys: service?.health.versionKeys ?? DEFAULT_VERSION_KEYS,
  }
  const result = req.waitMs === undefined ? await probeOnce(probeTarget, options) : await waitUntilServing(probeTarget, {...options, startTimeoutMs: req.waitMs})
  const report: HealthReport = {target: req.target, host: target.host, port: target.port, ...result}
  if (stateDir === undefined) return report
  const file = failureStreakFile(stateDir, req.target)
  if (req.failuresBeforeExit !== undefined) {
    report.failuresInRow = recordProbe(file, result.status === 'SERVING')
    // The streak has been acted on once it is reported: the next failure counts from one.
    if (report.failuresInRow >= req.failuresBeforeExit) clearStreak(file)
  } else if (req.waitMs !== undefined && result.status === 'SERVING') {
    // A service that has just become ready starts its liveness count afresh, as a restart does in the daemon.
    clearStreak(file)
  }
  return report
}

async function resolveHealthTarget(req: HealthRequest): Promise<{target: ProbeTarget; service?: ServiceSpec; stateDir?: string}> {
  if (parseHostPort(req.target)) {
    const {host, port, certs, serverName} = await resolveCallTarget(req)
    return {target: {host, port, certs, serverName}}
  }
  assertServiceName(req.target)
  const manifest = await loadManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd})
  const service = manifest.services.find((s) => s.name === req.target)
  const host = manifest.registry.host
  // registry lookup: the port the service was given (port: auto), or its fixed port when
  // it has no row yet because it was never started.
  const endpoint = await withEndpointStore(manifest.registry, (store) => store.find(req.target, host))
  const port = endpoint?.port ?? (typeof service?.port === 'number' ? service.port : undefined)
  if (port === undefined) throw new NotRegisteredError(req.target, host)
  if (!service && req.certsDir === undefined) {
    // A registered service the manifest does not list: qm's call target knows which certificates fit.
    const {certs, serverName} = await resolveCallTarget(req)
    return {target: {host: '127.0.0.1', port, certs, serverName}, stateDir: manifest.stateDir}
  }
  const certs = req.certsDir !== undefined ? certPaths(resolve(req.cwd, req.certsDir)) : service!.certs
  return {
    // Services of this host are dialled on loopback, where the dial guard can see their listener.
    target: {host: '127.0.0.1', port, certs, serverName: service?.health.serverName ?? DEFAULT_SERVER_NAME},
    ...(service ? {service} : {}),
    stateDir: manifest.stateDir,
  }
}

const METHOD_NAMES: Record<ProbeResult['method'], string> = {
  grpc: 'grpc.health.v1',
  call: 'quantra.MicroService/Call',
  tcp: 'a TCP connect',
}

/** "ocr 127.0.0.1:50052 SERVING via grpc.health.v1 in 3.1 ms, version 1.2.0", or the status and its reason. */
export function describeHealth(report: HealthReport): string {
  const address = formatHostPort(report.host, report.port)
  const who = report.target === address ? address : `${report.target} ${address}`
  const version = report.version ? `, version ${report.version}` : ''
  if (report.status === 'SERVING') {
    return `${who} SERVING via ${METHOD_NAMES[report.method]} in ${report.latencyMs.toFixed(1)} ms${version}`
  }
  const streak = report.failuresInRow === undefined ? '' : `; ${report.failuresInRow} in a row`
  return `${who} ${report.status}: ${report.reason ?? `via ${METHOD_NAMES[report.method]}`}${version ? ` (version ${report.version})` : ''}${streak}`
}
