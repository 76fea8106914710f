// The example services of examples/, each started by hand with the six standard arguments on
// a port from the OS, answering real Calls over mTLS with certificates made for this run.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {callService, type CallResult} from '../../src/call/call.js'
import type {CallTarget} from '../../src/grpc/target.js'
import {probeOnce} from '../../src/health/probe.js'
import {waitUntilServing} from '../../src/health/wait.js'
import type {CertPaths} from '../../src/manifest/types.js'
import {freePort} from '../helpers/listen.js'
import {lacks} from '../helpers/requirements.js'
import {makeCerts, PYTHON, REPO, startService, stopStartedServices, TSX_IMPORT} from '../helpers/services.js'
import {tempDir} from '../helpers/temp-dir.js'

let certs: CertPaths

// One certificate set for the whole file (tempDir() would remove it after the first test).
beforeAll(async () => {
  certs = await makeCerts(mkdtempSync(join(tmpdir(), 'qm-examples-certs-')))
})

afterAll(() => rmSync(certs.dir, {recursive: true, force: true}))

afterEach(stopStartedServices)

const LISTENING = /listening on port \d+ with mTLS/
const OAUTH2 = {url: 'https://test.example.com'}

function target(port: number, label = `127.0.0.1:${port}`): CallTarget {
  return {label, host: '127.0.0.1', port, certs, serverName: 'localhost'}
}

/** One Call; the frames received, and the result or the error it ended with. */
async function call(port: number, frames: (object | string)[]): Promise<{frames: any[]; result?: CallResult; error?: Error}> {
  const received: any[] = []
  const payloads = frames.map((f) => (typeof f === 'string' ? f : JSON.stringify(f)))
  try {
    const result = await callService(target(port), {payloads, timeoutMs: 5_000, onFrame: (f) => received.push(f.json ?? f.payload)})
    return {frames: received, result}
  } catch (error) {
    return {frames: received, error: error as Error}
  }
}

async function startTypeScriptExample(name: string, env: Record<string, string> = {}) {
  const port = await freePort()
  const service = startService([process.execPath, '--import', TSX_IMPORT, join(REPO, 'examples', name, 'server.ts')], {port, certs, env})
  await service.waitForLine(LISTENING)
  return {port, service}
}

describe('examples/echo', () => {
  it('echoes each record in a frame of its own, then the end-of-stream frame, with its version', async () => {
    const {port, service} = await startTypeScriptExample('echo')
    const records = [
      {meta: {filename: 'a.txt', page_number: 1}, content: {text: 'one'}},
      {meta: {filename: 'b.txt'}, content: {text: 'two', fields: {n: 2}}},
      {meta: {}, content: {}},
    ]
    const {frames, result, error} = await call(port, [{oauth2: OAUTH2, data: records, tod: 'object', eos: true}])
    expect(error).toBeUndefined()
    expect(frames).toEqual([
      ...records.map((record) => ({oauth2: OAUTH2, data: [record], tod: 'object', eos: false})),
      {oauth2: OAUTH2, data: [], tod: 'object', eos: true},
    ])
    expect(result?.version).toBe('1.0.0')
    expect(service.output()).toMatch(new RegExp(`echo 1\\.0\\.0 listening on port ${port} with mTLS`))
  })

  it('serves grpc.health.v1 with its version, and stops cleanly on SIGTERM', async () => {
    const {port, service} = await startTypeScriptExample('echo')
    const health = await probeOnce({host: '127.0.0.1', port, certs}, {type: 'grpc', timeoutMs: 3_000})
    expect(health).toMatchObject({status: 'SERVING', method: 'grpc', version: '1.0.0'})
    expect(await service.terminate()).toEqual({code: 0, signal: null})
  })

  it('refuses a client without a certificate signed by its CA', async () => {
    const {port} = await startTypeScriptExample('echo')
    const other = await makeCerts(tempDir())
    const result = await probeOnce({host: '127.0.0.1', port, certs: {...certs, clientCert: other.clientCert, clientKey: other.clientKey}}, {timeoutMs: 3_000})
    expect(result.status).toBe('TLS_ERROR')
  })
})

describe('examples/chunker', () => {
  const chunks = ['The quick brown ', 'fox jumps over\nthe ', 'lazy dog.']
  const chunkFrame = (index: number, eos: boolean) => ({
    oauth2: OAUTH2,
    data: [{meta: {filename: 'story.txt', chunk_index: index, chunk_count: 3}, content: {chunk: chunks[index]}}],
    tod: 'object',
    eos,
  })

  it('answers a document in three chunks with progress frames, then the result, then the end-of-stream frame', async () => {
    const {port} = await startTypeScriptExample('chunker')
    const {frames, result, error} = await call(port, [chunkFrame(0, false), chunkFrame(1, false), chunkFrame(2, true)])
    expect(error).toBeUndefined()
    const progress = (n: number, pct: number) => ({
      oauth2: OAUTH2,
      data: [{meta: {filename: 'story.txt', progress: pct, chunks_processed: n, chunk_count: 3}, content: {}}],
      tod: 'object',
      eos: false,
    })
    const text = chunks.join('')
    expect(frames).toEqual([
      progress(1, 33),
      progress(2, 67),
      progress(3, 100),
      {
        oauth2: OAUTH2,
        data: [{meta: {filename: 'story.txt', chunk_count: 3}, content: {characters: text.length, words: 9, lines: 2}}],
        tod: 'object',
        eos: false,
      },
      {oauth2: OAUTH2, data: [], tod: 'object', eos: true},
    ])
    expect(result?.version).toBe('1.0.0')
  })

  it('answers a frame that is not JSON with an error frame and goes on with the stream', async () => {
    const {port} = await startTypeScriptExample('chunker')
    const {frames, error} = await call(port, ['{"data": [', chunkFrame(0, false), chunkFrame(1, false), chunkFrame(2, true)])
    expect(frames[0]).toMatchObject({error: expect.stringMatching(/^the frame is not JSON: /), eos: false})
    expect(frames.slice(1).map((f) => f.data[0]?.meta.progress ?? (f.eos ? 'eos' : 'result'))).toEqual([33, 67, 100, 'result', 'eos'])
    expect(error?.message).toMatch(/answered with an error frame: the frame is not JSON/)
  })

  it('answers a missing chunk with an error frame before the end-of-stream frame', async () => {
    const {port} = await startTypeScriptExample('chunker')
    const {frames} = await call(port, [chunkFrame(0, false), chunkFrame(2, true)])
    expect(frames.at(-2)).toEqual({
      oauth2: OAUTH2,
      data: [{meta: {filename: 'story.txt', missing_chunks: [1]}, content: {}}],
      tod: 'object',
      error: 'story.txt: missing chunk 1 of 3; the document was not processed',
      eos: false,
    })
    expect(frames.at(-1)).toEqual({oauth2: OAUTH2, data: [], tod: 'object', eos: true})
  })

  it('serves Call only, so a health probe has to fall back to an end-of-stream Call', async () => {
    const {port} = await startTypeScriptExample('chunker')
    const grpcOnly = await probeOnce({host: '127.0.0.1', port, certs}, {type: 'grpc', timeoutMs: 3_000})
    expect(grpcOnly.status).toBe('PROTOCOL_ERROR')
    const auto = await probeOnce({host: '127.0.0.1', port, certs}, {type: 'auto', timeoutMs: 3_000})
    expect(auto).toMatchObject({status: 'SERVING', method: 'call', version: '1.0.0'})
  })
})

describe.skipIf(lacks('python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'))('examples/slow_start', () => {
  it('names the missing module and the Debian package that provides it when pkg_resources is missing', async () => {
    // A pkg_resources that fails to import, as on a Debian 12 without python3-pkg-resources.
    const hidden = mkdtempSync(join(tmpdir(), 'qm-hide-'))
    try {
      mkdirSync(join(hidden, 'pkg_resources'))
      writeFileSync(join(hidden, 'pkg_resources', '__init__.py'), 'raise ModuleNotFoundError("No module named \'pkg_resources\'", name="pkg_resources")\n')
      const result = spawnSync(PYTHON, [join(REPO, 'examples', 'slow_start', 'server.py'), '--port', '1'], {encoding: 'utf8', env: {...process.env, PYTHONPATH: hidden}})
      expect(result.status).toBe(1)
      expect(result.stderr).toBe(
        `cannot generate the gRPC stubs: ${PYTHON}: no module named 'pkg_resources' (install Debian's python3-pkg-resources: apt-get install python3-pkg-resources)\n`,
      )
    } finally {
      rmSync(hidden, {recursive: true, force: true})
    }
  })

  it('is unreachable while it warms up and answers Call once its delay has passed', async () => {
    const port = await freePort()
    const startedMs = performance.now()
    const service = startService([PYTHON, join(REPO, 'examples', 'slow_start', 'server.py')], {port, certs, env: {SLOW_START_SECONDS: '1.5'}})
    await service.waitForLine(/warming up for 1\.5 s/)
    const early = await probeOnce({host: '127.0.0.1', port, certs}, {type: 'call', timeoutMs: 1_000})
    expect(early.status).toBe('UNREACHABLE')
    const ready = await waitUntilServing({host: '127.0.0.1', port, certs}, {type: 'auto', timeoutMs: 2_000, startTimeoutMs: 15_000})
    const readyAfterMs = performance.now() - startedMs
    expect(ready, service.output()).toMatchObject({status: 'SERVING', method: 'call', version: '1.0.0'})
    expect(readyAfterMs).toBeGreaterThanOrEqual(1_500)

    const {frames, error} = await call(port, [{oauth2: OAUTH2, data: [{meta: {n: 1}, content: {text: 'hi'}}], tod: 'object', eos: true}])
    expect(error).toBeUndefined()
    expect(frames).toEqual([
      {oauth2: OAUTH2, data: [{meta: {n: 1}, content: {echo: {text: 'hi'}}}], tod: 'object', eos: false},
      {oauth2: OAUTH2, data: [], tod: 'object', eos: true},
    ])
    expect(service.output()).toMatch(new RegExp(`Slow Start listening on port ${port} with mTLS`))
    expect(await service.terminate()).toEqual({code: 0, signal: null})
  })
})
