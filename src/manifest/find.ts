// Finds the manifest the way docker compose finds its file: an explicit flag, then
// QM_MANIFEST, then services.yaml in this folder or the nearest parent.
import {existsSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {ManifestError} from '../errors.js'

export const MANIFEST_NAMES = ['services.yaml', 'services.yml'] as const

export interface FindManifestOptions {
  flag?: string
  env: NodeJS.ProcessEnv
  cwd: string
}

export function findManifest({flag, env, cwd}: FindManifestOptions): string {
  const explicit = flag ?? (env.QM_MANIFEST ? env.QM_MANIFEST : undefined)
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit)
    const origin = flag === undefined ? ' (from QM_MANIFEST)' : ''
    if (!existsSync(file)) throw new ManifestError(`manifest ${file}${origin} does not exist`)
    if (!statSync(file).isFile()) throw new ManifestError(`manifest ${file}${origin} is not a file`)
    return file
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of MANIFEST_NAMES) {
      const file = join(dir, name)
      if (existsSync(file)) return file
    }
    if (dirname(dir) === dir) break
  }
  throw new ManifestError(
    `no services.yaml in ${resolve(cwd)} or any folder above it`,
    'pass -f FILE, set QM_MANIFEST, or run qm where services.yaml lives',
  )
}
