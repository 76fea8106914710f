import {createServer, type Server, type Socket} from 'node:net'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {probeOnce} from '../../src/health/probe.js'
import {
  generatePythonStubs,
  makeTempDir,
  startNodeFixture,
  startPythonGuide,
  stopAllServices,
  targetFor,
  writeGoodSet,
  type CertDir,
} from './support.js'

let tmp: ReturnType<typeof makeTempDir>
let certs: CertDir
let pythonStubs: {ok: true} | {ok: false; reason: string}

beforeAll(async () => {
  tmp = makeTempDir()
  certs = await writeGoodSet(tmp.dir)
  pythonStubs = generatePythonStubs(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(stopAllServices)

/** Accepts TCP connections and never says a word, like a process stuck before its TLS handshake. */
async function silentServer(): Promise<{port: number; close: () => Promise<void>}> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {
      // The probe gives up and resets; the test only needs the silence.
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    port: (server.address() as {port: number}).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('a service that serves grpc.health.v1', () => {
  test('is SERVING via the health service, with its version from the metadata', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs, env: {SERVICE_VERSION: '2.4.17'}})
    const result = await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})
    expect(result).toMatchObject({status: 'SERVING', method: 'grpc', version: '2.4.17'})
    expect(result.reason).toBeUndefined()
    expect(result.latencyMs).toBeGreaterThan(0)
  })

  test('is NOT_SERVING when it says so, and SERVING again when it says so', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs})
    expect((await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).status).toBe('SERVING')
    process.kill(service.pid, 'SIGUSR1')
    await service.waitForLine('HEALTH NOT_SERVING')
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'NOT_SERVING',
      method: 'grpc',
      version: '1.0.0',
      reason: 'the service reports NOT_SERVING on grpc.health.v1',
    })
    process.kill(service.pid, 'SIGUSR1')
    await service.waitForLine('HEALTH SERVING')
    expect((await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).status).toBe('SERVING')
  })

  test('type call skips the health service and asks Call', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000, type: 'call'})).toMatchObject({status: 'SERVING', method: 'call'})
  })
})

describe('a guide-style service (Call only)', () => {
  test('is SERVING via the Call fallback, with its version from the metadata', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs, env: {SERVICE_VERSION: '1.2.0'}})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'SERVING',
      method: 'call',
      version: '1.2.0',
    })
  })

  test('reads the version under the key the manifest names', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs, env: {SERVICE_VERSION: '3.0.1'}})
    const target = targetFor(service.port, certs)
    expect((await probeOnce(target, {timeoutMs: 2000, versionKeys: ['build', 'x-service-version']})).version).toBe('3.0.1')
    expect((await probeOnce(target, {timeoutMs: 2000, versionKeys: ['build']})).version).toBeUndefined()
  })

  test('reads the version from the trailers when the headers do not carry it', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs, env: {SERVICE_VERSION: '5.6.7', VERSION_IN: 'trailers'}})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'SERVING',
      method: 'call',
      version: '5.6.7',
    })
  })

  test('type grpc reports that it has no health service', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'PROTOCOL_ERROR',
      method: 'grpc',
      reason: 'the service does not implement grpc.health.v1.Health',
    })
  })

  test('type tcp only connects', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000, type: 'tcp'})).toMatchObject({status: 'SERVING', method: 'tcp'})
  })

  test('the Python service written to the guide is SERVING via Call, version from its VersionMixin', async (ctx) => {
    if (!pythonStubs.ok) {
      ctx.skip(`skipped: ${pythonStubs.reason}`)
      return
    }
    const service = await startPythonGuide(tmp.dir, {certs})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'SERVING',
      method: 'call',
      version: '1.0.0',
    })
  })
})

describe('services that are not healthy', () => {
  test('nothing listening: UNREACHABLE in well under the timeout, without dialling', async () => {
    const silent = await silentServer()
    const {port} = silent
    await silent.close()
    const result = await probeOnce(targetFor(port, certs), {timeoutMs: 2000})
    expect(result).toMatchObject({
      status: 'UNREACHABLE',
      method: 'grpc',
      reason: `nothing is listening on 127.0.0.1:${port} (the kernel's socket table shows no listener; not dialled)`,
    })
    // Well under the 2 s timeout: nothing was dialled.
    expect(result.latencyMs).toBeLessThan(1000)
  })

  test('a server that accepts TCP and never answers: TIMEOUT at the timeout', async () => {
    const silent = await silentServer()
    try {
      const result = await probeOnce(targetFor(silent.port, certs), {timeoutMs: 400})
      expect(result).toMatchObject({
        status: 'TIMEOUT',
        method: 'grpc',
        reason: 'no connection within 400 ms: the TCP connection or the TLS handshake did not finish',
      })
      // The deadline covers the whole probe; latency starts at the dial, after the guard and certificate reads.
      expect(result.latencyMs).toBeGreaterThanOrEqual(350)
      expect(result.latencyMs).toBeLessThan(2000)
    } finally {
      await silent.close()
    }
  })

  test('a Call that answers a frame that is not JSON: PROTOCOL_ERROR', async () => {
    const service = await startNodeFixture('garbage-call-server.mjs', {certs})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'PROTOCOL_ERROR',
      method: 'call',
      reason: 'Call answered with a frame that is not JSON: "<html>502 Bad Gateway</html>"',
    })
  })

  test('a Call that ends without an end-of-stream frame: PROTOCOL_ERROR', async () => {
    const service = await startNodeFixture('garbage-call-server.mjs', {certs, env: {GARBAGE_MODE: 'no-eos'}})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'PROTOCOL_ERROR',
      method: 'call',
      reason: 'Call ended without an end-of-stream frame',
    })
  })

  test('a Call that answers with an error frame: NOT_SERVING with the error', async () => {
    const service = await startNodeFixture('garbage-call-server.mjs', {certs, env: {GARBAGE_MODE: 'error-frame'}})
    expect(await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'NOT_SERVING',
      method: 'call',
      reason: 'Call answered with an error frame: "model file missing"',
    })
  })

  test('an aborted probe rejects with the abort reason at once', async () => {
    const silent = await silentServer()
    try {
      const controller = new AbortController()
      const startedMs = performance.now()
      setTimeout(() => controller.abort(new Error('service is being stopped')), 100)
      await expect(probeOnce(targetFor(silent.port, certs), {timeoutMs: 5000, signal: controller.signal})).rejects.toThrow(
        'service is being stopped',
      )
      // Far sooner than the 5 s timeout: the abort ends the probe.
      expect(performance.now() - startedMs).toBeLessThan(4000)
    } finally {
      await silent.close()
    }
  })

  test('missing certificate files are an error that names the file', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    const target = targetFor(service.port, {...certs, clientKey: `${tmp.dir}/nope/client.key`})
    await expect(probeOnce(target, {timeoutMs: 2000})).rejects.toMatchObject({
      code: 'CERTS_UNREADABLE',
      message: `cannot read ${tmp.dir}/nope/client.key: ENOENT`,
    })
  })
})
