// registry.url and QM_REGISTRY_URL: which store a manifest names, the errors that point at
// the line, and a password that never comes back in an error or in the resolved manifest.
import {describe, expect, it} from 'vitest'
import {ManifestError} from '../../src/errors.js'
import {parseManifestText} from '../../src/manifest/load.js'

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseManifestText('/srv/app/services.yaml', text, {env, cwd: '/srv/app'})
const SERVICES = 'services:\n  ocr:\n    command: [python3, ocr.py]\n'

describe('registry.url', () => {
  it('names a PostgreSQL registry, with table and host beside it', async () => {
    const manifest = await parse(`version: 1\nregistry: {url: "postgres://qm:\${DB_PASSWORD}@db.example/platform", host: node-2}\n${SERVICES}`, {DB_PASSWORD: 'hunter2222'})
    expect(manifest.registry).toMatchObject({kind: 'postgres', table: 'core_serviceendpoint', host: 'node-2'})
    if (manifest.registry.kind !== 'postgres') throw new Error('expected a PostgreSQL registry')
    expect(manifest.registry.url.reveal()).toBe('postgres://qm:hunter2222@db.example/platform')
    // What `qm validate --json` prints.
    expect(JSON.stringify(manifest)).not.toContain('hunter2222')
    expect(JSON.parse(JSON.stringify(manifest)).registry.url).toBe('postgres://qm:***@db.example/platform')
  })

  it('refuses url beside path, naming the line of url', async () => {
    const text = `version: 1\nregistry:\n  path: reg.sqlite3\n  url: postgres://qm@db/platform\n${SERVICES}`
    await expect(parse(text)).rejects.toThrow(ManifestError)
    await expect(parse(text)).rejects.toThrow('services.yaml:4:3: registry.url: url and path are exclusive: url names a PostgreSQL registry, path an SQLite file')
  })

  it('refuses a URL that is not postgres://, without repeating it', async () => {
    const failure = await parse(`version: 1\nregistry: {url: "mysql://qm:hunter2222@db/platform"}\n${SERVICES}`).then(
      () => expect.fail('expected a refusal'),
      (error: unknown) => error as ManifestError,
    )
    expect(failure.message).toBe('services.yaml:2:17: registry.url: must be a postgres:// or postgresql:// URL')
    expect(failure.exitCode).toBe(2)
  })

  it('gives way to QM_REGISTRY_URL, which overrides path and url alike', async () => {
    const env = {QM_REGISTRY_URL: 'postgresql://ops@db.other:6432/fleet'}
    const fromPath = await parse(`version: 1\nregistry: {path: reg.sqlite3, table: endpoints}\n${SERVICES}`, env)
    expect(fromPath.registry).toMatchObject({kind: 'postgres', table: 'endpoints', host: 'localhost'})
    expect(String(fromPath.registry.kind === 'postgres' && fromPath.registry.url)).toBe('postgresql://ops@db.other:6432/fleet')
    await expect(parse(SERVICES.replace('services', 'version: 1\nservices'), {QM_REGISTRY_URL: 'sqlite:///x'})).rejects.toThrow('QM_REGISTRY_URL must be a postgres:// or postgresql:// URL')
    expect((await parse(`version: 1\n${SERVICES}`, {QM_REGISTRY_URL: ''})).registry.kind).toBe('sqlite')
  })
})
