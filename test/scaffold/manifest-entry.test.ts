// The manifest edit of `qm new`: the new entry is the only new text, whatever the file's
// comments, indentation and flow style; the minimal manifest is one qm accepts.
import {describe, expect, it} from 'vitest'
import {parseManifestText} from '../../src/manifest/load.js'
import {addServiceEntry, minimalManifest} from '../../src/scaffold/manifest-entry.js'

const entry = {command: ['/usr/bin/python3', 'ms/demo_py/server.py'], env: {PYTHONUNBUFFERED: '1'}, expected_version: '1.0.0'}

describe('addServiceEntry', () => {
  it('appends the entry and leaves every other line as it was, comments included', () => {
    const text = [
      '# yaml-language-server: $schema=./schema/manifest.schema.json',
      '# Services of this host.',
      'version: 1',
      'registry: {path: .qm/registry.sqlite3, table: core_serviceendpoint, host: localhost}',
      'port_range: [50051, 50090]  # the platform\'s range',
      'defaults:',
      '  certs: ./certs            # ca.crt server.crt server.key client.crt client.key',
      '  health: {type: auto, interval: 10s, timeout: 2s, start_timeout: 30s, failure_threshold: 3}',
      'services:',
      '  # the first one',
      '  echo:',
      '    command: [node, dist/examples/echo/server.js]',
      '    expected_version: 1.0.0',
      '',
    ].join('\n')
    expect(addServiceEntry(text, 'demo_py', entry)).toBe(
      `${text}  demo_py:\n    command: [/usr/bin/python3, ms/demo_py/server.py]\n    env: {PYTHONUNBUFFERED: "1"}\n    expected_version: 1.0.0\n`,
    )
  })

  it('follows a file indented by four spaces with padded flow collections', () => {
    const text = 'version: 1\nservices:\n    echo:\n        command: [ node, server.js ]\n'
    expect(addServiceEntry(text, 'demo_ts', {command: ['node', 'ms/demo_ts/dist/server.js']})).toBe(
      `${text}    demo_ts:\n        command: [ node, ms/demo_ts/dist/server.js ]\n`,
    )
  })
})

describe('minimalManifest', () => {
  it('is a manifest qm accepts, with the certificates in ./certs', async () => {
    const text = minimalManifest('demo_py', entry)
    expect(text).toContain('version: 1\ndefaults:\n  certs: ./certs\nservices:\n  demo_py:\n    command: [/usr/bin/python3, ms/demo_py/server.py]\n')
    const manifest = await parseManifestText('/srv/project/services.yaml', text, {env: {}, cwd: '/srv/project'})
    expect(manifest.services.map((s) => [s.name, s.command, s.certs.dir, s.env, s.expectedVersion])).toEqual([
      ['demo_py', entry.command, '/srv/project/certs', {PYTHONUNBUFFERED: '1'}, '1.0.0'],
    ])
  })
})
