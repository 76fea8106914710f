// Start order from depends_on: each layer's services depend only on earlier layers,
// so a layer starts in parallel once the one before it is healthy. Stop uses the
// layers reversed. The manifest loader has already refused cycles.

export interface Dependent {
  name: string
  dependsOn: readonly string[]
}

export function startLayers<T extends Dependent>(items: readonly T[]): T[][] {
  const byName = new Map(items.map((item) => [item.name, item]))
  const depth = new Map<string, number>()
  const depthOf = (item: T): number => {
    const known = depth.get(item.name)
    if (known !== undefined) return known
    let d = 0
    for (const name of item.dependsOn) {
      const dependency = byName.get(name)
      if (dependency) d = Math.max(d, depthOf(dependency) + 1)
    }
    depth.set(item.name, d)
    return d
  }
  const layers: T[][] = []
  for (const item of items) (layers[depthOf(item)] ??= []).push(item)
  return layers.filter((layer) => layer !== undefined)
}

export function stopLayers<T extends Dependent>(items: readonly T[]): T[][] {
  return startLayers(items).reverse()
}

/** The named services plus everything they depend on, transitively. */
export function withDependencies<T extends Dependent>(all: readonly T[], names: ReadonlySet<string>): T[] {
  const byName = new Map(all.map((item) => [item.name, item]))
  const wanted = new Set<string>()
  const add = (name: string) => {
    if (wanted.has(name)) return
    wanted.add(name)
    for (const dependency of byName.get(name)?.dependsOn ?? []) add(dependency)
  }
  for (const name of names) add(name)
  return all.filter((item) => wanted.has(item.name))
}

/** The named services plus everything that depends on them, transitively. */
export function withDependants<T extends Dependent>(all: readonly T[], names: ReadonlySet<string>): T[] {
  const wanted = new Set(names)
  for (let grew = true; grew; ) {
    grew = false
    for (const item of all) {
      if (!wanted.has(item.name) && item.dependsOn.some((name) => wanted.has(name))) {
        wanted.add(item.name)
        grew = true
      }
    }
  }
  return all.filter((item) => wanted.has(item.name))
}

/** An instance as the plans below see it: its name and the service it is one of. */
interface Placed {
  name: string
  instance: {service: Dependent}
}

/** An instance a command named, as the manifest's selection gives it. */
interface Chosen {
  name: string
  service: Dependent
}

/**
 * What a start touches, layer by layer: the chosen instances, and every instance of the
 * services they depend on.
 */
export function startPlan<T extends Placed>(services: readonly Dependent[], all: readonly T[], chosen: readonly Chosen[]): T[][] {
  const pick = picker(all, chosen)
  return startLayers(withDependencies(services, pick.services)).map(pick.layer).filter((layer) => layer.length > 0)
}

/** What a stop touches, layer by layer: the chosen instances and, first, every instance of what depends on them. */
export function stopPlan<T extends Placed>(services: readonly Dependent[], all: readonly T[], chosen: readonly Chosen[]): T[][] {
  const pick = picker(all, chosen)
  return stopLayers(withDependants(services, pick.services)).map(pick.layer).filter((layer) => layer.length > 0)
}

/** What a restart touches, one at a time in start order: the chosen instances only. */
export function restartPlan<T extends Placed>(services: readonly Dependent[], all: readonly T[], chosen: readonly Chosen[]): T[] {
  const names = new Set(chosen.map((instance) => instance.name))
  return startLayers(services).flat().flatMap((service) => all.filter((instance) => instance.instance.service.name === service.name && names.has(instance.name)))
}

// Of a chosen service, only the chosen instances; of a service pulled in by the
// dependency order, every instance.
function picker<T extends Placed>(all: readonly T[], chosen: readonly Chosen[]) {
  const names = new Set(chosen.map((instance) => instance.name))
  const services = new Set(chosen.map((instance) => instance.service.name))
  return {
    services,
    layer: (layer: readonly Dependent[]): T[] =>
      layer.flatMap((service) =>
        all.filter((instance) => instance.instance.service.name === service.name && (!services.has(service.name) || names.has(instance.name))),
      ),
  }
}
