// The port of each exported name, from the registry as `qm start` gets it: the row's
// port when there is one, else a new row (inactive until the service is healthy) with
// the manifest's fixed port or the lowest free one. Rows made here are removed again
// when a later name fails, so a refused export leaves the registry as it was.
import type {Manifest, ServiceSpec} from '../manifest/types.js'
import {withEndpointStore} from '../registry/open.js'
import {localPortUsage} from '../registry/port-usage.js'
import {QmError} from '../errors.js'

export interface PortRequest {
  /** The registry name: a service or an instance (`ocr_2`). */
  name: string
  service: ServiceSpec
}

export async function registeredPorts(manifest: Manifest, requests: readonly PortRequest[]): Promise<Map<string, number>> {
  const host = manifest.registry.host
  return withEndpointStore(manifest.registry, async (store) => {
    const ports = new Map<string, number>()
    const created: string[] = []
    try {
      for (const {name, service} of requests) {
        const existing = await store.find(name, host)
        if (existing) {
          if (service.port !== 'auto' && existing.port !== service.port) {
            throw new QmError(`the manifest gives ${name} port ${service.port} but the registry has port ${existing.port}`, 1, 'PORT_MISMATCH', `run "qm unregister ${name}" to let the manifest's port apply`)
          }
          ports.set(name, existing.port)
          continue
        }
        const outcome = await store.register({
          name,
          host,
          ...(service.port === 'auto' ? {} : {port: service.port}),
          active: false,
          range: manifest.portRange,
          portInUse: localPortUsage(host),
        })
        created.push(name)
        ports.set(name, outcome.endpoint.port)
      }
    } catch (error) {
      for (const name of created) await store.unregister(name, host)
      throw error
    }
    return ports
  })
}
