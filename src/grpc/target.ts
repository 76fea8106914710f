// Where `qm call` dials: a service name looked up in the registry (its port, else the
// manifest's fixed port) and the manifest (certificates, TLS name), or a host:port given
// directly with the certificates of --certs, of the manifest, or ./certs.
import {resolve} from 'node:path'
import {NotRegisteredError, UsageError} from '../errors.js'
import {loadManifest, loadOptionalManifest} from '../manifest/load.js'
import {DEFAULT_SERVER_NAME} from '../manifest/defaults.js'
import {certPaths} from '../manifest/resolve.js'
import type {CertPaths, Manifest} from '../manifest/types.js'
import {assertServiceName} from '../registry/endpoints.js'
import {withEndpointStore} from '../registry/open.js'

export interface CallTarget {
  /** What the operator typed, for messages. */
  label: string
  host: string
  port: number
  certs: Pick<CertPaths, 'ca' | 'clientCert' | 'clientKey'>
  serverName: string
}

export interface TargetRequest {
  /** NAME or host:port ([v6]:port for IPv6). */
  target: string
  certsDir?: string
  manifestFlag?: string
  env: NodeJS.ProcessEnv
  cwd: string
}


export async function resolveCallTarget(req: TargetRequest): Promise<CallTarget> {
  const address = parseHostPort(req.target)
  if (address) {
    const manifest = req.certsDir === undefined ? await loadOptionalManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd}) : undefined
    return {label: req.target, ...address, certs: sharedCerts(req, manifest), serverName: DEFAULT_SERVER_NAME}
  }
  assertServiceName(req.target)
  const manifest = await loadManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd})
  const host = manifest.registry.host
  const endpoint = await withEndpointStore(manifest.registry, (store) => store.find(req.target, host))
  const service = manifest.services.find((s) => s.name === req.target)
  // A service with a fixed port that was never started has no row yet; its port is still known.
  const port = endpoint?.port ?? (typeof service?.port === 'number' ? service.port : undefined)
  if (port === undefined) throw new NotRegisteredError(req.target, host)
  const certs = req.certsDir !== undefined ? certPaths(resolve(req.cwd, req.certsDir)) : service?.certs ?? sharedCerts(req, manifest)
  return {
    label: req.target,
    host: endpoint?.host ?? host,
    port,
    certs,
    serverName: service?.health.serverName ?? DEFAULT_SERVER_NAME,
  }
}

/** "host:port" or "[v6]:port"; undefined for anything without a colon (a service name). */
export function parseHostPort(text: string): {host: string; port: number} | undefined {
  if (!text.includes(':')) return undefined
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text)
  const port = Number(match?.[3])
  if (!match || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`"${text}" is neither a service name nor host:port`, 'e.g. qm call echo, qm call localhost:50051 or qm call [::1]:50051')
  }
  return {host: (match[1] ?? match[2])!, port}
}

/** The one certificate folder the manifest's services use; a manifest with several cannot say which. */
function sharedCerts(req: TargetRequest, manifest: Manifest | undefined): CallTarget['certs'] {
  if (req.certsDir !== undefined) return certPaths(resolve(req.cwd, req.certsDir))
  if (!manifest) return certPaths(resolve(req.cwd, 'certs'))
  const folders = [...new Set(manifest.services.map((s) => s.certs.dir))]
  if (folders.length === 1) return manifest.services[0]!.certs
  throw new UsageError(
    `the services of ${manifest.file} use ${folders.length} certificate folders, so qm cannot tell which one ${req.target} trusts`,
    'pass --certs DIR, or call the service by its name',
  )
}

