import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ManifestError} from '../../src/errors.js'
import {findManifest} from '../../src/manifest/find.js'
import {parseManifestText} from '../../src/manifest/load.js'
import {tempDir} from '../helpers/temp-dir.js'

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseManifestText('/srv/app/services.yaml', text, {env, cwd: '/srv/app'})

describe('manifest loading', () => {
  it('merges defaults into each service, with durations in ms and absolute paths', async () => {
    const manifest = await parse(`
version: 1
registry: {path: data/reg.sqlite3, table: endpoints, host: node-7}
port_range: [50100, 50120]
defaults:
  certs: ./tls
  max_workers: 4
  stop_timeout: 1.5s
  env: {PYTHONUNBUFFERED: 1, MODE: prod}
  health: {interval: 500ms, failure_threshold: 5}
services:
  ocr:
    command: [python3, ocr/server.py]
    port: 50110
    cwd: ms
    env: {MODE: dev}
    health: {type: call, server_name: ocr.internal}
    expected_version: 1.2.3
  pdf_extractor:
    command: [python3, pdf/server.py]
    depends_on: [ocr]
    instances: 2
    restart: on-failure
`)
    expect(manifest.registry).toEqual({kind: 'sqlite', path: '/srv/app/data/reg.sqlite3', table: 'endpoints', host: 'node-7'})
    expect(manifest.portRange).toEqual([50100, 50120])
    expect(manifest.stateDir).toBe('/srv/app/.qm')
    const [ocr, pdf] = manifest.services
    expect(ocr).toMatchObject({
      name: 'ocr',
      port: 50110,
      cwd: '/srv/app/ms',
      env: {PYTHONUNBUFFERED: '1', MODE: 'dev'},
      maxWorkers: 4,
      logLevel: 'INFO',
      restart: 'always',
      stopTimeoutMs: 1500,
      expectedVersion: '1.2.3',
      health: {type: 'call', intervalMs: 500, timeoutMs: 2000, startTimeoutMs: 30_000, failureThreshold: 5, serverName: 'ocr.internal'},
    })
    expect(ocr!.certs).toEqual({
      dir: '/srv/app/tls',
      ca: '/srv/app/tls/ca.crt',
      serverCert: '/srv/app/tls/server.crt',
      serverKey: '/srv/app/tls/server.key',
      clientCert: '/srv/app/tls/client.crt',
      clientKey: '/srv/app/tls/client.key',
    })
    expect(pdf).toMatchObject({port: 'auto', cwd: '/srv/app', dependsOn: ['ocr'], instances: 2, restart: 'on-failure'})
    expect(pdf!.health.versionKeys).toEqual(['x-service-version', 'service-version', 'version'])
    expect(pdf!.backoff).toEqual({initialMs: 500, maxMs: 30_000, factor: 2, resetAfterMs: 60_000, maxFailures: 10})
    expect(pdf!.logs).toEqual({maxBytes: 10 * 1024 * 1024, keep: 3})
  })

  it('interpolates ${VAR}, ${VAR:-default}, $VAR and $$ as docker compose does, and types unquoted results', async () => {
    const manifest = await parse(
      `
version: 1
services:
  ocr:
    command: [python3, "\${APP_DIR}/server.py", "--token=$TOKEN", "cost: $$5"]
    port: \${OCR_PORT}
    env:
      EMPTY_DEFAULT: \${EMPTY:-fallback}
      EMPTY_KEPT: \${EMPTY-fallback}
      QUOTED: "\${OCR_PORT}"
`,
      {APP_DIR: '/opt/ocr', TOKEN: 's3cret', OCR_PORT: '50060', EMPTY: ''},
    )
    const [ocr] = manifest.services
    expect(ocr!.command).toEqual(['python3', '/opt/ocr/server.py', '--token=s3cret', 'cost: $5'])
    expect(ocr!.port).toBe(50060)
    expect(ocr!.env).toEqual({EMPTY_DEFAULT: 'fallback', EMPTY_KEPT: '', QUOTED: '50060'})
  })

  it('names the variable a required reference lacks', async () => {
    const text = 'version: 1\nservices:\n  a:\n    command: [x, "${DB_URL:?the database address}"]\n'
    await expect(parse(text)).rejects.toThrow(ManifestError)
    await expect(parse(text)).rejects.toThrow('services.yaml:4:18: services.a.command[1]: variable DB_URL is required: the database address')
  })
})

describe('manifest discovery', () => {
  it('prefers the flag, then QM_MANIFEST, then the nearest services.yaml upward', () => {
    const root = tempDir()
    const nested = join(root, 'a', 'b')
    mkdirSync(nested, {recursive: true})
    writeFileSync(join(root, 'services.yaml'), 'version: 1\n')
    writeFileSync(join(root, 'a', 'other.yaml'), 'version: 1\n')
    expect(findManifest({env: {}, cwd: nested})).toBe(join(root, 'services.yaml'))
    expect(findManifest({env: {QM_MANIFEST: '../other.yaml'}, cwd: nested})).toBe(join(root, 'a', 'other.yaml'))
    expect(findManifest({flag: join(root, 'services.yaml'), env: {QM_MANIFEST: '../other.yaml'}, cwd: nested})).toBe(join(root, 'services.yaml'))
  })

  it('says where it looked when there is no manifest', () => {
    const dir = tempDir()
    expect(() => findManifest({env: {}, cwd: dir})).toThrow(`no services.yaml in ${dir} or any folder above it`)
    expect(() => findManifest({env: {QM_MANIFEST: 'gone.yaml'}, cwd: dir})).toThrow(`manifest ${join(dir, 'gone.yaml')} (from QM_MANIFEST) does not exist`)
  })
})
