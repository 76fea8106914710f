// The resolved manifest, kept in the state folder so that a command typed all day does not
// parse YAML and run the schema validator each time (about 40 ms of `qm endpoints`). A
// cached copy is used only while everything it was made from is the same: the file (its
// identity, size and times), every environment variable the loading read, and the build
// of qm that made it. Anything else, or any trouble with the cache file, means a fresh load.
import {chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {DatabaseUrl} from './database-url.js'
import {STATE_DIR_NAME} from './defaults.js'
import type {Manifest} from './types.js'

const FORMAT = 1
const BUILD_FILE = fileURLToPath(import.meta.url)

interface CacheFile {
  key: string
  /** The environment variables the load read, with the values they had (null: unset). */
  env: [string, string | null][]
  manifest: Manifest
  /** A PostgreSQL URL from the manifest text, revealed: the cache file is as private as the manifest. */
  registryUrl?: string
}

/**
 * The file's identity now, taken before it is read, so that a change while loading misses
 * next time. A file changed in the last moments is not cached at all: file times are
 * coarse (a few ms), so a second write of the same size in the same tick would look the
 * same (git's "racy" index entries, handled the same way).
 */
export function manifestStamp(file: string): string | undefined {
  try {
    const stat = statSync(file)
    if (Date.now() - stat.mtimeMs < RACY_MS) return undefined
    return stampOf(stat, statSync(BUILD_FILE))
  } catch {
    return undefined
  }
}

const RACY_MS = 2000

function stampOf(stat: Stats, build: Stats): string {
  return JSON.stringify([FORMAT, build.mtimeMs, stat.dev, stat.ino, stat.size, stat.mtimeMs, stat.ctimeMs])
}

function cachePath(manifestFile: string): string {
  return join(dirname(manifestFile), STATE_DIR_NAME, 'manifest-cache.json')
}

export function readCachedManifest(file: string, stamp: string, env: NodeJS.ProcessEnv): Manifest | undefined {
  let cached: CacheFile
  try {
    cached = JSON.parse(readFileSync(cachePath(file), 'utf8')) as CacheFile
  } catch {
    return undefined
  }
  if (cached.key !== `${file}\n${stamp}`) return undefined
  if (!cached.env.every(([name, value]) => (env[name] ?? null) === value)) return undefined
  const manifest = cached.manifest
  if (manifest.registry.kind === 'postgres') {
    if (cached.registryUrl === undefined) return undefined
    manifest.registry.url = new DatabaseUrl(cached.registryUrl)
  }
  return manifest
}

export function writeCachedManifest(manifest: Manifest, stamp: string, envRead: ReadonlyMap<string, string | undefined>): void {
  // A URL from the environment stays out of files: such a manifest is loaded afresh each time.
  if (manifest.registry.kind === 'postgres' && envRead.get('QM_REGISTRY_URL') !== undefined) return
  const entry: CacheFile = {
    key: `${manifest.file}\n${stamp}`,
    env: [...envRead].map(([name, value]) => [name, value ?? null]),
    manifest,
    ...(manifest.registry.kind === 'postgres' ? {registryUrl: manifest.registry.url.reveal()} : {}),
  }
  const path = cachePath(manifest.file)
  try {
    mkdirSync(dirname(path), {recursive: true})
    const temporary = `${path}.${process.pid}`
    writeFileSync(temporary, JSON.stringify(entry), {mode: 0o600})
    chmodSync(temporary, 0o600)
    renameSync(temporary, path)
  } catch {
    // A folder qm may not write to: every command loads afresh, as before.
  }
}

/** The environment, recording each variable the load reads, so the cache can be keyed on exactly those. */
export function recordingEnv(env: NodeJS.ProcessEnv, read: Map<string, string | undefined>): NodeJS.ProcessEnv {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.set(name, target[name])
      return target[name as string]
    },
    has(target, name) {
      if (typeof name === 'string') read.set(name, target[name])
      return name in target
    },
  })
}
