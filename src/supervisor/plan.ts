// Which instances a start or stop will touch, known before the daemon answers, so the
// progress view can show a line for each from the start. Mirrors the supervisor's rules:
// a start takes in what the named services depend on, a stop what depends on them.
import type {Manifest} from '../manifest/types.js'
import {startLayers, withDependants, withDependencies} from './dependency-order.js'
import {expandInstances, selectInstances} from './instances.js'

export function plannedInstances(manifest: Manifest, names: readonly string[], verb: 'start' | 'stop' | 'restart'): string[] {
  const all = expandInstances(manifest.services)
  const chosen = selectInstances(manifest, all, names)
  if (verb === 'restart') return chosen.map((instance) => instance.name)
  const services = new Set(chosen.map((instance) => instance.service.name))
  const widened = verb === 'start' ? withDependencies(manifest.services, services) : withDependants(manifest.services, services)
  const ordered = startLayers(widened).flat().map((service) => service.name)
  const chosenNames = new Set(chosen.map((instance) => instance.name))
  return ordered.flatMap((service) =>
    all.filter((instance) => instance.service.name === service && (chosenNames.has(instance.name) || !services.has(service))).map((instance) => instance.name),
  )
}

/** For each planned instance, the services it waits for (its depends_on), for the progress view. */
export function dependenciesOf(manifest: Manifest, planned: readonly string[]): Map<string, string[]> {
  const byInstance = new Map(expandInstances(manifest.services).map((instance) => [instance.name, instance.service]))
  return new Map(planned.map((name) => [name, byInstance.get(name)?.dependsOn ?? []]))
}
