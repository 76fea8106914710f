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
