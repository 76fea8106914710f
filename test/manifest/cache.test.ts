// The resolved manifest kept in .qm/manifest-cache.json: used only while the file, every
// environment variable the load read and qm's build are the same, never holding a URL
// that came from the environment, and never for a file changed in the last moments.
import {existsSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadManifest} from '../../src/manifest/load.js'
import {tempDir} from '../helpers/temp-dir.js'

const MANIFEST = (port: string) => `version: 1\nport_range: [50100, 50120]\nservices:\n  ocr:\n    command: [python3, server.py]\n    port: ${port}\n`

/** A manifest written a minute ago: old enough to be cached. */
function settledManifest(text: string): {dir: string; file: string} {
  const dir = tempDir('qm-cache-')
  const file = join(dir, 'services.yaml')
  writeFileSync(file, text)
  const past = new Date(Date.now() - 60_000)
  utimesSync(file, past, past)
  return {dir, file}
}

const load = (dir: string, env: NodeJS.ProcessEnv = {}, cached = true) => loadManifest({flag: undefined, env, cwd: dir, cached})
const cacheFile = (dir: string) => join(dir, '.qm', 'manifest-cache.json')

/** Changes what the cache says, so that a load that returns it is seen to have used it. */
function tamper(dir: string): void {
  const entry = JSON.parse(readFileSync(cacheFile(dir), 'utf8'))
  entry.manifest.services[0].name = 'from_the_cache'
  writeFileSync(cacheFile(dir), JSON.stringify(entry))
}

describe('the manifest cache', () => {
  it('is written by a load, readable only by its owner, and used by the next load of the same file', async () => {
    const {dir} = settledManifest(MANIFEST('50110'))
    const first = await load(dir)
    expect(statSync(cacheFile(dir)).mode & 0o777).toBe(0o600)
    tamper(dir)
    expect((await load(dir)).services[0]!.name).toBe('from_the_cache')
    // qm validate reads the file itself.
    expect((await load(dir, {}, false)).services[0]!.name).toBe('ocr')
    expect(first.services[0]!.port).toBe(50110)
  })

  it('is not used once the file changes, even with its size and time put back', async () => {
    const {dir, file} = settledManifest(MANIFEST('50110'))
    await load(dir)
    tamper(dir)
    const before = statSync(file)
    writeFileSync(file, MANIFEST('50111'))
    utimesSync(file, before.atime, before.mtime)
    const again = await load(dir)
    expect(again.services[0]).toMatchObject({name: 'ocr', port: 50111})
  })

  it('is not used when a variable the manifest reads has changed', async () => {
    const {dir} = settledManifest(MANIFEST('${OCR_PORT}'))
    expect((await load(dir, {OCR_PORT: '50112'})).services[0]!.port).toBe(50112)
    tamper(dir)
    expect((await load(dir, {OCR_PORT: '50113'})).services[0]).toMatchObject({name: 'ocr', port: 50113})
    // Variables the manifest does not read change nothing.
    expect((await load(dir, {OCR_PORT: '50113', UNRELATED: 'x'})).services[0]!.port).toBe(50113)
  })

  it('keeps no copy of a manifest whose registry URL comes from QM_REGISTRY_URL', async () => {
    const {dir} = settledManifest(MANIFEST('50110'))
    const manifest = await load(dir, {QM_REGISTRY_URL: 'postgres://qm:secret@db.internal/platform'})
    expect(manifest.registry.kind).toBe('postgres')
    expect(existsSync(cacheFile(dir))).toBe(false)
  })

  it('keeps no copy of a file changed in the last two seconds', async () => {
    const dir = tempDir('qm-cache-')
    writeFileSync(join(dir, 'services.yaml'), MANIFEST('50110'))
    await load(dir)
    expect(existsSync(cacheFile(dir))).toBe(false)
  })
})
