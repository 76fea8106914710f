// `qm new` as a user runs it (the built CLI in a temp project): the files, the manifest
// entry with the file's comments kept, the registry row, the generated unit test passing,
// and the generated server answering Call and grpc.health.v1 over mTLS; then the refusals,
// each with its exact words and nothing written.
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {execa} from 'execa'
import {afterEach, describe, expect, it} from 'vitest'
import {callService} from '../../src/call/call.js'
import {probeOnce} from '../../src/health/probe.js'
import type {CertPaths} from '../../src/manifest/types.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import {freePort} from '../helpers/listen.js'
import {runQm} from '../helpers/run-qm.js'
import {lacks} from '../helpers/requirements.js'
import {makeCerts, PYTHON, startService, stopStartedServices} from '../helpers/services.js'
import {tempDir} from '../helpers/temp-dir.js'

afterEach(stopStartedServices)

/** A project whose manifest has comments and one port, free when the test began. */
async function project(): Promise<{dir: string; port: number; manifest: string; certs: CertPaths}> {
  const dir = tempDir()
  const port = await freePort()
  const manifest = [
    '# Services of this test. Keep this comment.',
    'version: 1',
    `port_range: [${port}, ${port}]   # one port, free when the test began`,
    'defaults:',
    '  certs: ./certs                # made per run',
    'services:',
    '  # the first service',
    '  echo:',
    '    command: [node, server.mjs]',
    '',
  ].join('\n')
  writeFileSync(join(dir, 'services.yaml'), manifest)
  const certs = await makeCerts(join(dir, 'certs'))
  return {dir, port, manifest, certs}
}

async function registryRows(dir: string) {
  const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
  try {
    return await store.list()
  } finally {
    await store.close()
  }
}

/** Every file under dir with its size and mtime: equal snapshots mean nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, {withFileTypes: true})) {
      const path = join(folder, entry.name)
      if (entry.isDirectory()) {
        out[`${relative(dir, path)}/`] = ''
        walk(path)
      } else {
        const stat = statSync(path)
        out[relative(dir, path)] = `${stat.size} ${stat.mtimeMs}`
      }
    }
  }
  walk(dir)
  return out
}

/** The generated server, started with the manifest's command and the six arguments, answers both services. */
async function expectServerAnswers(command: string[], dir: string, port: number, certs: CertPaths, name: string) {
  const server = startService(command, {port, certs, cwd: dir})
  await server.waitForLine(new RegExp(`${name} 1\\.0\\.0 listening on port ${port} with mTLS`))
  const frames: unknown[] = []
  const target = {label: name, host: '127.0.0.1', port, certs, serverName: 'localhost'}
  const oauth2 = {url: 'https://test.example.com'}
  const records = [{meta: {filename: 'a.txt'}, content: {text: 'one'}}, {meta: {filename: 'b.txt'}, content: {text: 'two'}}]
  const result = await callService(target, {
    payloads: ['not json', JSON.stringify({oauth2, data: records, tod: 'object', eos: true})],
    timeoutMs: 5_000,
    onFrame: (frame) => frames.push(frame.json),
  }).catch((err: Error) => err)
  // The frame that is not JSON gets an error frame, and the stream goes on to the records and the end.
  expect(result).toBeInstanceOf(Error)
  expect((result as Error).message).toMatch(/answered with an error frame: bad frame: /)
  expect(frames.slice(1)).toEqual([
    {oauth2, data: [{meta: records[0]!.meta, content: {received: records[0]!.content}}], tod: 'object', eos: false},
    {oauth2, data: [{meta: records[1]!.meta, content: {received: records[1]!.content}}], tod: 'object', eos: false},
    {oauth2, data: [], tod: 'object', eos: true},
  ])
  const good = await callService(target, {payloads: [JSON.stringify({oauth2, data: [], eos: true})], timeoutMs: 5_000})
  expect(good.version).toBe('1.0.0')
  const health = await probeOnce({host: '127.0.0.1', port, certs}, {type: 'grpc', timeoutMs: 3_000})
  expect(health).toMatchObject({status: 'SERVING', method: 'grpc', version: '1.0.0'})
  expect(await server.terminate()).toEqual({code: 0, signal: null})
}

describe('qm new', () => {
  it.skipIf(lacks('python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'))('makes a Python service: files, stubs, manifest entry with comments kept, registry row, passing unit test, a server that answers', async () => {
    const {dir, port, manifest, certs} = await project()
    const result = await runQm(['new', 'demo_py', '--lang', 'python'], {cwd: dir})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout.split('\n')).toEqual([
      'wrote ms/demo_py/health.proto',
      'wrote ms/demo_py/microservice.proto',
      'wrote ms/demo_py/server.py',
      'wrote ms/demo_py/test_server.py',
      'wrote ms/demo_py/health_pb2.py',
      'wrote ms/demo_py/health_pb2_grpc.py',
      'wrote ms/demo_py/microservice_pb2.py',
      'wrote ms/demo_py/microservice_pb2_grpc.py',
      `registered demo_py on port ${port} (host localhost)`,
      'updated services.yaml: /usr/bin/python3 ms/demo_py/server.py',
    ])
    for (const stub of ['microservice_pb2.py', 'microservice_pb2_grpc.py', 'health_pb2.py', 'health_pb2_grpc.py']) {
      expect(existsSync(join(dir, 'ms', 'demo_py', stub)), stub).toBe(true)
    }
    expect(result.stderr).toContain('next: cd ms/demo_py && /usr/bin/python3 -m unittest  (its unit test)')
    expect(readFileSync(join(dir, 'ms', 'demo_py', 'test_server.py'), 'utf8')).toContain('#   /usr/bin/python3 -m unittest\n')
    expect(readFileSync(join(dir, 'services.yaml'), 'utf8')).toBe(
      `${manifest}  demo_py:\n    command: [/usr/bin/python3, ms/demo_py/server.py]\n    env: {PYTHONUNBUFFERED: "1"}\n    expected_version: 1.0.0\n`,
    )
    expect(await registryRows(dir)).toEqual([{id: 1, name: 'demo_py', host: 'localhost', port, protocol: 'grpc', active: false}])
    expect((await runQm(['validate'], {cwd: dir})).exitCode).toBe(0)

    const unit = await execa(PYTHON, ['-m', 'unittest'], {cwd: join(dir, 'ms', 'demo_py'), reject: false})
    expect(unit.exitCode, `${unit.stdout}\n${unit.stderr}`).toBe(0)
    expect(unit.stderr).toMatch(/Ran 5 tests[\s\S]*\nOK$/)

    await expectServerAnswers([PYTHON, 'ms/demo_py/server.py'], dir, port, certs, 'demo_py')
  })

  it('makes a TypeScript service, installed and built: its node test passes and its server answers', async () => {
    const {dir, port, manifest, certs} = await project()
    const result = await runQm(['new', 'demo_ts', '--lang', 'typescript'], {cwd: dir})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).toContain('running npm install --no-audit --no-fund in ms/demo_ts\nrunning npm run build in ms/demo_ts\n')
    const folder = join(dir, 'ms', 'demo_ts')
    for (const file of ['package.json', 'tsconfig.json', '.gitignore', 'microservice.proto', 'health.proto', 'src/server.ts', 'src/frames.ts', 'src/frames.test.ts', 'dist/server.js', 'node_modules/@grpc/grpc-js/package.json']) {
      expect(existsSync(join(folder, file)), file).toBe(true)
    }
    const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
    const qmPkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(pkg.dependencies).toEqual({'@grpc/grpc-js': qmPkg.dependencies['@grpc/grpc-js'], '@grpc/proto-loader': qmPkg.dependencies['@grpc/proto-loader']})
    expect(Object.keys(pkg.devDependencies).sort()).toEqual(['@types/node', 'typescript'])
    expect(readFileSync(join(dir, 'services.yaml'), 'utf8')).toBe(
      `${manifest}  demo_ts:\n    command: [node, ms/demo_ts/dist/server.js]\n    expected_version: 1.0.0\n`,
    )
    expect((await registryRows(dir)).map((row) => [row.name, row.port])).toEqual([['demo_ts', port]])

    const unit = await execa('npm', ['test'], {cwd: folder, reject: false, all: true})
    expect(unit.exitCode, String(unit.all)).toBe(0)
    expect(String(unit.all)).toMatch(/# pass 4\n# fail 0/)

    await expectServerAnswers(['node', 'ms/demo_ts/dist/server.js'], dir, port, certs, 'demo_ts')
  }, 300_000)

  it('writes a minimal services.yaml where there is none', async () => {
    const dir = tempDir()
    const result = await runQm(['new', 'first_one', '--lang', 'typescript', '--no-install'], {cwd: dir})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/\ncreated services\.yaml: node ms\/first_one\/dist\/server\.js$/)
    expect(result.stderr).toContain('next: npm install && npm run build in ms/first_one')
    expect(result.stderr).toContain('next: qm certs init --dir certs (no certificates there yet)')
    expect(readFileSync(join(dir, 'services.yaml'), 'utf8')).toMatch(
      /^# The services qm runs on this host[^\n]*\n#[^\n]*\nversion: 1\ndefaults:\n {2}certs: \.\/certs\nservices:\n {2}first_one:\n {4}command: \[node, ms\/first_one\/dist\/server\.js\]\n {4}expected_version: 1\.0\.0\n$/,
    )
    expect(existsSync(join(dir, 'ms', 'first_one', 'node_modules'))).toBe(false)
    expect((await runQm(['validate'], {cwd: dir})).exitCode).toBe(0)
  })
})

describe('qm new refuses, writing nothing', () => {
  it('a name that is not lowercase and underscore-separated', async () => {
    const {dir} = await project()
    const before = snapshot(dir)
    expect(await runQm(['new', 'Demo-Py'], {cwd: dir})).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error "Demo-Py" is not a valid service name\nhint  use lowercase words joined by underscores, such as pdf_extractor',
    })
    expect(snapshot(dir)).toEqual(before)
  })

  it('a folder that exists', async () => {
    const {dir} = await project()
    mkdirSync(join(dir, 'ms', 'demo_py'), {recursive: true})
    const before = snapshot(dir)
    expect(await runQm(['new', 'demo_py'], {cwd: dir})).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'error ms/demo_py already exists\nhint  choose another name, or move that folder away',
    })
    expect(snapshot(dir)).toEqual(before)
  })

  it('a name the manifest has', async () => {
    const {dir} = await project()
    const before = snapshot(dir)
    expect(await runQm(['new', 'echo', '--lang', 'typescript'], {cwd: dir})).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'error echo is already a service in services.yaml\nhint  choose another name',
    })
    expect(snapshot(dir)).toEqual(before)
  })

  it('a name the registry has', async () => {
    const {dir, port} = await project()
    expect((await runQm(['register', 'taken'], {cwd: dir})).exitCode).toBe(0)
    const before = snapshot(dir)
    const rows = await registryRows(dir)
    expect(await runQm(['new', 'taken'], {cwd: dir})).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `error taken is already registered on port ${port} (host localhost)\nhint  choose another name, or run "qm unregister taken" if that row is left over`,
    })
    expect(snapshot(dir)).toEqual(before)
    expect(await registryRows(dir)).toEqual(rows)
  })

  it('a Python that cannot import grpc_tools', async () => {
    const {dir} = await project()
    const before = snapshot(dir)
    expect(await runQm(['new', 'demo_py', '--python', '/nonexistent/python3'], {cwd: dir})).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        "error /nonexistent/python3 cannot import grpc and grpc_tools: it does not exist\nhint  install Debian's python3-grpcio and python3-grpc-tools (apt install python3-grpcio python3-grpc-tools), or pass --python PATH",
    })
    expect(snapshot(dir)).toEqual(before)
  })

  it('and removes what it wrote when a later step fails', async () => {
    const {dir} = await project()
    // An interpreter that passes the import check and then fails to generate the stubs.
    const fake = join(tempDir(), 'python3')
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\necho "protoc: boom" >&2\nexit 1\n')
    chmodSync(fake, 0o755)
    const before = snapshot(dir)
    const result = await runQm(['new', 'demo_py', '--python', fake], {cwd: dir})
    expect(result).toEqual({exitCode: 1, stdout: '', stderr: `error grpc_tools.protoc failed in ${join(dir, 'ms', 'demo_py')}: protoc: boom`})
    // The registry, its folder, ms/ and the manifest are as they were: none of them existed or changed.
    expect(snapshot(dir)).toEqual(before)
  })
})
