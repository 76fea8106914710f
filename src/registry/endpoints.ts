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
  return withEndpointStore(manifest.registry, (store) =>
    store.register({
      name: options.name,
      host,
      ...(options.port === undefined ? {} : {port: options.port}),
      active: options.active ?? true,
      range: manifest.portRange,
      portInUse: localPortUsage(host),
    }),
  )
}

export async function unregisterEndpoint(manifest: Manifest, name: string, host?: string): Promise<Endpoint> {
  return withEndpointStore(manifest.registry, (store) => store.unregister(name, host ?? manifest.registry.host))
}

export interface EndpointListing {
  host: string
  portRange: [number, number]
  free: number
  endpoints: Endpoint[]
}

export async function listEndpoints(manifest: Manifest, host?: string): Promise<EndpointListing> {
  const listHost = host ?? manifest.registry.host
  const endpoints = await withEndpointStore(manifest.registry, (store) => store.list(listHost))
  const [first, last] = manifest.portRange
  const held = new Set(endpoints.map((endpoint) => endpoint.port).filter((port) => port >= first && port <= last))
  return {host: listHost, portRange: [first, last], free: last - first + 1 - held.size, endpoints}
}
