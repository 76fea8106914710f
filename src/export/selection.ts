// Which services an export covers (the named ones and what they depend on, in manifest
// order) and the project name units and objects are grouped under.
import {basename} from 'node:path'
import {UsageError} from '../errors.js'
import type {Manifest, ServiceSpec} from '../manifest/types.js'

export function selectServices(manifest: Manifest, names: readonly string[]): ServiceSpec[] {
  if (names.length === 0) return [...manifest.services]
  const byName = new Map(manifest.services.map((service) => [service.name, service]))
  const wanted = new Set<string>()
  const add = (name: string) => {
    if (wanted.has(name)) return
    wanted.add(name)
    for (const dependency of byName.get(name)!.dependsOn) add(dependency)
  }
  for (const name of names) {
    if (!byName.has(name)) {
      throw new UsageError(`unknown service "${name}" in ${manifest.file}`, `services defined there: ${manifest.services.map((s) => s.name).join(', ')}`)
    }
    add(name)
  }
  return manifest.services.filter((service) => wanted.has(service.name))
}

/**
 * The project's name in unit and object names: --project, else the manifest's `project:`,
 * else the manifest folder's name as both systemd unit names and Kubernetes labels accept
 * it: lowercase letters, digits and single dashes, at most 40 characters.
 */
export function projectName(manifest: Pick<Manifest, 'dir' | 'project'>, override?: string): string {
  if (override !== undefined) {
    if (!/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(override)) {
      throw new UsageError(`--project "${override}" is not a project name`, 'lowercase letters, digits and dashes, at most 40 characters, such as billing')
    }
    return override
  }
  if (manifest.project !== undefined) return manifest.project
  const name = basename(manifest.dir)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '')
  return name === '' ? 'qm' : name
}
