// Registry operations behind `qm register`, `qm unregister` and `qm endpoints`:
// input checks first, then one store call, so a refused request writes nothing.
import {UsageError} from '../errors.js'
import type {Manifest} from '../manifest/types.js'
import {withEndpointStore} from './open.js'
import {localPortUsage} from './port-usage.js'
import type {Endpoint, RegisterOutcome} from './store.js'

export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/

export interface RegisterOptions {
  name: string
  port?: number
  host?: string
  /** is_active of a new row (default true); when given, an existing row's is_active is set to it too. */
  active?: boolean
}

export function assertServiceName(name: string): void {
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new UsageError(`"${name}" is not a valid service name`, 'use lowercase words joined by underscores, such as pdf_extractor')
  }
}

export async function registerEndpoint(manifest: Manifest, options: RegisterOptions): Promise<RegisterOutcome> {
  assertServiceName(options.name)
  const [first, last] = manifest.portRange
  if (options.port !== undefined && (options.port < first || options.port > last)) {
    throw new UsageError(`port ${options.port} is outside ${first}-${last}`, 'choose a port in port_range, or leave out --port')
  }
  const host = options.host ?? manifest.registry.host
  return withEndpointStore(manifest.registry, async (store) => {
    const outcome = await store.register({
      name: options.name,
      host,
      ...(options.port === undefined ? {} : {port: options.port}),
      active: options.active ?? true,
      range: manifest.portRange,
      portInUse: localPortUsage(host),
    })
    // An exported systemd unit marks its row active once the service is healthy and
    // inactive after it stops; the port and the rest of the row stay as they are.
    if (outcome.created || options.active === undefined || outcome.endpoint.active === options.active) return outcome
    await store.setActive(options.name, host, options.active)
    return {...outcome, endpoint: {...outcome.endpoint, active: options.active}}
  })
}

export async function unregisterEndpoint(manifest: Manifest, name: string, host?: string): Promise<Endpoint> {
  return withEndpointStore(manifest.registry, (store) => store.unregister(name, host ?? manifest.registry.host))
}

export interface EndpointListing {
  /** The host listed; null when every host is. */
  host: string | null
  portRange: [number, number]
  /** Ports of port_range no row of the host holds; null when every host is listed (see hosts). */
  free: number | null
  endpoints: Endpoint[]
  /** With every host listed: each host's rows and free ports, by host name. */
  hosts?: HostUsage[]
}

export interface HostUsage {
  host: string
  registered: number
  free: number
}

/** One host's rows (default registry.host), or with allHosts every host's, by host and port. */
export async function listEndpoints(manifest: Manifest, host?: string, allHosts = false): Promise<EndpointListing> {
  const listHost = host ?? manifest.registry.host
  const endpoints = await withEndpointStore(manifest.registry, (store) => store.list(allHosts ? undefined : listHost))
  const [first, last] = manifest.portRange
  const freeOf = (rows: Endpoint[]) => last - first + 1 - new Set(rows.map((row) => row.port).filter((port) => port >= first && port <= last)).size
  if (!allHosts) return {host: listHost, portRange: [first, last], free: freeOf(endpoints), endpoints}
  const byHost = new Map<string, Endpoint[]>()
  for (const endpoint of endpoints) byHost.set(endpoint.host, [...(byHost.get(endpoint.host) ?? []), endpoint])
  const hosts = [...byHost.keys()].sort().map((name) => ({host: name, registered: byHost.get(name)!.length, free: freeOf(byHost.get(name)!)}))
  return {host: null, portRange: [first, last], free: null, endpoints, hosts}
}
