// `qm endpoints --check`: every row of the registry (one host's, or every host's) probed from
// here over mTLS, as Consul and Nomad check a catalogue, and each row given a verdict. A row
// that is active but that nothing answers on is stale (its host, or its qm, is gone): the
// platform still sends Calls there. Marking those inactive is markStale (mark.ts).
import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {dirname, join, resolve} from 'node:path'
import {UsageError} from '../errors.js'
import type {ProbeResult, ProbeTarget} from '../grpc/types.js'
import {ProbeChannels} from '../health/probe.js'
import {DEFAULT_SERVER_NAME, DEFAULT_VERSION_KEYS} from '../manifest/defaults.js'
import {certPaths} from '../manifest/resolve.js'
import type {Manifest} from '../manifest/types.js'
import {withEndpointStore} from '../registry/open.js'
import type {Endpoint} from '../registry/store.js'

/**
 * passing: active and SERVING. stale: active, and nothing answered (refused, or no answer in
 * time). failing: active, and something answered but not SERVING (a TLS or protocol error, or
 * NOT_SERVING): a process is there, its host's qm deals with it, and it is never marked.
 * unknown: active, but its host's name does not resolve from here, so nothing was dialled
 * and nothing is known: this machine's resolver is no reason to mark a row.
 * inactive: the platform sends it nothing whatever the probe says.
 */
export type RowVerdict = 'passing' | 'stale' | 'failing' | 'unknown' | 'inactive'

export interface RowCheck {
  endpoint: Endpoint
  probe: ProbeResult
  verdict: RowVerdict
}

export interface FleetCheck {
  /** The host checked; null when every host was. */
  host: string | null
  timeoutMs: number
  rows: RowCheck[]
  /** How many rows of each verdict. */
  counts: Record<RowVerdict, number>
}

export interface FleetCheckOptions {
  /** One host's rows (default registry.host); ignored with allHosts. */
  host?: string
  allHosts: boolean
  /** Each probe's bound: a dead host's rows cost this long, all at once, not one after another. */
  timeoutMs: number
  /** Folder with ca.crt, client.crt and client.key for rows that are not services of this manifest. */
  certsDir?: string
  /** TLS name for rows that are not services of this manifest (default localhost). */
  serverName?: string
  cwd: string
  /** How many probes run at once. */
  concurrency?: number
}

// Enough to check a fleet of tens of hosts within a few timeouts, few enough that a dead
// subnet does not open hundreds of sockets (and TLS contexts) at once.
export const DEFAULT_CONCURRENCY = 16

/** Statuses that mean nothing answered at the row's address. */
const NO_ANSWER = new Set<ProbeResult['status']>(['UNREACHABLE', 'TIMEOUT'])

export async function checkFleet(manifest: Manifest, options: FleetCheckOptions): Promise<FleetCheck> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`probe concurrency must be a whole number of at least 1, got ${concurrency}`)
  const host = options.allHosts ? undefined : (options.host ?? manifest.registry.host)
  const endpoints = await withEndpointStore(manifest.registry, (store) => store.list(host))
  const targetOf = probeTargets(manifest, options)
  // Once per host, not per row: a fleet has a few hosts and many rows on each.
  const unresolved = await unresolvedHosts(new Set(endpoints.map((endpoint) => endpoint.host)))
  const channels = new ProbeChannels()
  try {
    const rows = await inBatches(endpoints, concurrency, async (endpoint): Promise<RowCheck> => {
      const failure = unresolved.get(endpoint.host)
      if (failure !== undefined) {
        const probe: ProbeResult = {status: 'UNREACHABLE', method: 'grpc', latencyMs: 0, reason: `cannot resolve ${endpoint.host} from here: ${failure}; not dialled`}
        return {endpoint, probe, verdict: endpoint.active ? 'unknown' : 'inactive'}
      }
      const {target, versionKeys} = targetOf(endpoint)
      const probe = await channels.probe(target, {type: 'auto', timeoutMs: options.timeoutMs, versionKeys})
      return {endpoint, probe, verdict: verdictOf(endpoint, probe)}
    })
    const counts: Record<RowVerdict, number> = {passing: 0, stale: 0, failing: 0, unknown: 0, inactive: 0}
    for (const row of rows) counts[row.verdict] += 1
    return {host: host ?? null, timeoutMs: options.timeoutMs, rows, counts}
  } finally {
    channels.close()
  }
}

export function verdictOf(endpoint: Endpoint, probe: ProbeResult): RowVerdict {
  if (!endpoint.active) return 'inactive'
  if (probe.status === 'SERVING') return 'passing'
  return NO_ANSWER.has(probe.status) ? 'stale' : 'failing'
}

/**
 * A row named like a service of this manifest is probed as that service is (its certificates,
 * its TLS name, its version keys): the hosts of a fleet mostly run one manifest. Any other row
 * gets --certs (else the one certificate folder of the manifest, else ./certs beside it) and
 * --server-name. The address is the row's host as written: the probe dials its IP with the
 * TLS name fixed, as the daemon's own probe does, so the server certificate needs the name,
 * not every host's address.
 */
function probeTargets(manifest: Manifest, options: FleetCheckOptions): (endpoint: Endpoint) => {target: ProbeTarget; versionKeys: readonly string[]} {
  const services = new Map(manifest.services.map((service) => [service.name, service]))
  let fallbackCerts: ProbeTarget['certs'] | undefined
  const certsForOthers = () => (fallbackCerts ??= sharedCerts(manifest, options))
  return (endpoint) => {
    const service = options.certsDir === undefined ? services.get(endpoint.name) : undefined
    return {
      target: {
        host: endpoint.host,
        port: endpoint.port,
        certs: service?.certs ?? certsForOthers(),
        serverName: options.serverName ?? service?.health.serverName ?? DEFAULT_SERVER_NAME,
      },
      versionKeys: service?.health.versionKeys ?? DEFAULT_VERSION_KEYS,
    }
  }
}

function sharedCerts(manifest: Manifest, options: FleetCheckOptions): ProbeTarget['certs'] {
  if (options.certsDir !== undefined) return certPaths(resolve(options.cwd, options.certsDir))
  const folders = [...new Set(manifest.services.map((service) => service.certs.dir))]
  if (folders.length === 1) return manifest.services[0]!.certs
  if (folders.length === 0) return certPaths(join(dirname(manifest.file), 'certs'))
  throw new UsageError(
    `the services of ${manifest.file} use ${folders.length} certificate folders, so qm cannot tell which one the other rows trust`,
    'pass --certs DIR: the folder with the ca.crt, client.crt and client.key the fleet trusts',
  )
}

/** Each host name that does not resolve here, with why; addresses resolve to themselves. */
async function unresolvedHosts(hosts: ReadonlySet<string>): Promise<Map<string, string>> {
  const failures = new Map<string, string>()
  await Promise.all(
    [...hosts].map(async (host) => {
      const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
      if (isIP(bare) !== 0) return
      try {
        await lookup(bare)
      } catch (error) {
        failures.set(host, (error as NodeJS.ErrnoException).code ?? (error as Error).message)
      }
    }),
  )
  return failures
}

/** work over items, at most `limit` at a time, results in the items' order. */
async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}
