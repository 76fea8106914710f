// find → parse → interpolate → validate → resolve, as named passes. Reading is all it
// does: an invalid manifest leaves every file as it was.
import {readFileSync} from 'node:fs'
import {ManifestError} from '../errors.js'
import {manifestStamp, readCachedManifest, recordingEnv, writeCachedManifest} from './cache.js'
import {findManifest, type FindManifestOptions} from './find.js'
import type {RawManifest} from './resolve.js'
import type {Manifest} from './types.js'

export interface LoadOptions extends FindManifestOptions {
  /** false: parse and validate the file even when an unchanged copy is cached (qm validate). */
  cached?: boolean
}

export async function loadManifest(options: LoadOptions): Promise<Manifest> {
  const file = findManifest(options)
  const stamp = options.cached === false ? undefined : manifestStamp(file)
  const hit = stamp === undefined ? undefined : readCachedManifest(file, stamp, options.env)
  if (hit) return hit
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ManifestError(`cannot read manifest ${file}: ${(error as Error).message}`, undefined, {cause: error})
  }
  if (stamp === undefined) return parseManifestText(file, text, options)
  const envRead = new Map<string, string | undefined>()
  const manifest = await parseManifestText(file, text, {env: recordingEnv(options.env, envRead), cwd: options.cwd})
  writeCachedManifest(manifest, stamp, envRead)
  return manifest
}

/**
 * For commands that can work without a manifest (qm call host:port, qm certs check): a
 * manifest named by -f or QM_MANIFEST must load; one merely absent gives undefined.
 */
export async function loadOptionalManifest(options: FindManifestOptions): Promise<Manifest | undefined> {
  const named = options.flag !== undefined || Boolean(options.env.QM_MANIFEST)
  if (!named) {
    try {
      findManifest(options)
    } catch (error) {
      if (error instanceof ManifestError) return undefined
      throw error
    }
  }
  return loadManifest(options)
}

export async function parseManifestText(file: string, text: string, {env, cwd}: Pick<FindManifestOptions, 'env' | 'cwd'>): Promise<Manifest> {
  // The YAML parser and the validator load only when the file is read, not for a cached copy.
  const [{ManifestSource}, {interpolate}, {validateAgainstSchema}, {resolveManifest}] = await Promise.all([
    import('./source.js'),
    import('./interpolate.js'),
    import('./validate.js'),
    import('./resolve.js'),
  ])
  const source = ManifestSource.parse(file, text, cwd)
  interpolate(source, env)
  const raw: unknown = source.doc.toJS()
  await validateAgainstSchema(source, raw)
  return resolveManifest(source, raw as RawManifest, env)
}
