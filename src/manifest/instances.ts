// A service with `instances: N` runs N processes, each with its own port and registry
// row: the first is named after the service, the others NAME_2 … NAME_N (the manifest
// loader refuses a service whose name would collide with one of these).
import {UsageError} from '../errors.js'
import {sha256Hex} from '../sha256-hex.js'
import type {Manifest, ServiceSpec} from './types.js'

export interface ServiceInstance {
  /** The registry name and the name operators type: `ocr`, `ocr_2`, … */
  name: string
  service: ServiceSpec
  /** 1-based. */
  index: number
}

export function instanceNames(service: Pick<ServiceSpec, 'name' | 'instances'>): string[] {
  return Array.from({length: service.instances}, (_, i) => (i === 0 ? service.name : `${service.name}_${i + 1}`))
}

export function expandInstances(services: readonly ServiceSpec[]): ServiceInstance[] {
  return services.flatMap((service) => instanceNames(service).map((name, i) => ({name, service, index: i + 1})))
}

/** The argv qm spawns: the manifest's command plus the six standard arguments. */
export function serviceArgv(service: ServiceSpec, port: number): string[] {
  return [
    ...service.command,
    '--port', String(port),
    '--ca-cert', service.certs.ca,
    '--server-cert', service.certs.serverCert,
    '--server-key', service.certs.serverKey,
    '--max-workers', String(service.maxWorkers),
    '--log-level', service.logLevel,
  ]
}

/** What, if changed in the manifest, needs the process restarted to take effect. */
export function launchFingerprint(service: ServiceSpec, port: number): string {
  const launch = {argv: serviceArgv(service, port), cwd: service.cwd, env: service.env}
  return sha256Hex(JSON.stringify(launch), 16)
}

/** The instances a command names: a service name means all its instances; none means all. */
export function selectInstances(manifest: Manifest, all: readonly ServiceInstance[], names: readonly string[]): ServiceInstance[] {
  if (names.length === 0) return [...all]
  const chosen: ServiceInstance[] = []
  for (const name of names) {
    const matches = all.filter((instance) => instance.name === name || instance.service.name === name)
    if (matches.length === 0) {
      throw new UsageError(`unknown service "${name}"`, `services in ${manifest.file}: ${manifest.services.map((s) => s.name).join(', ')}`)
    }
    for (const match of matches) if (!chosen.includes(match)) chosen.push(match)
  }
  return chosen
}
