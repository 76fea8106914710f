import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import * as grpc from '@grpc/grpc-js'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {loadSync} from '@grpc/proto-loader'
import {ProbeChannels} from '../../src/health/probe.js'
import {waitUntilServing} from '../../src/health/wait.js'
import type {ProbeResult} from '../../src/grpc/types.js'
import {makeTempDir, PROTO_DIR, startNodeFixture, stopAllServices, targetFor, writeBrokenSets, type CertDir} from './support.js'

let tmp: ReturnType<typeof makeTempDir>
let sets: Awaited<ReturnType<typeof writeBrokenSets>>
let certs: CertDir
const servers: grpc.Server[] = []

beforeAll(async () => {
  tmp = makeTempDir()
  sets = await writeBrokenSets(tmp.dir)
  certs = sets.good
})
afterAll(() => tmp.remove())
afterEach(async () => {
  await stopAllServices()
  for (const server of servers.splice(0)) server.forceShutdown()
})

async function unusedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A guide-style Call service in this process, so the test knows the moment it is bound. */
function bindGuideService(port: number): Promise<number> {
  const server = new grpc.Server()
  servers.push(server)
  server.addService(
    loadSync('microservice.proto', {includeDirs: [PROTO_DIR], keepCase: true})['quantra.MicroService'] as grpc.ServiceDefinition,
    {
      Call(stream: grpc.ServerDuplexStream<{payload: string}, {payload: string}>) {
        stream.on('data', () => stream.write({payload: JSON.stringify({oauth2: {}, data: [], tod: 'object', eos: true})}))
        stream.on('end', () => stream.end())
      },
    },
  )
  const credentials = grpc.ServerCredentials.createSsl(
    readFileSync(certs.ca),
    [{private_key: readFileSync(certs.serverKey), cert_chain: readFileSync(certs.serverCert)}],
    true,
  )
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, credentials, (err) => (err ? reject(err) : resolve(performance.now()))),
  )
}

describe('waitUntilServing', () => {
  test('sees a service that binds after 150 ms within a few ms of its first answer', async () => {
    const port = await unusedPort()
    const probes: ProbeResult[] = []
    const startedMs = performance.now()
    let boundAtMs = 0
    setTimeout(() => void bindGuideService(port).then((t) => (boundAtMs = t)), 150)
    const result = await waitUntilServing(targetFor(port, certs), {startTimeoutMs: 5000, timeoutMs: 1000, onProbe: (r) => probes.push(r)})
    const seenAtMs = performance.now()
    expect(result).toMatchObject({status: 'SERVING', method: 'call'})
    expect(boundAtMs).toBeGreaterThan(startedMs + 140)
    // Before the bind the waiter only read the socket table (no dial), so it saw UNREACHABLE.
    expect(probes[0]!.status).toBe('UNREACHABLE')
    // How soon after the bind it was seen is a figure for the bench, not an assertion here.
    const lagMs = seenAtMs - boundAtMs - result.latencyMs
    console.info(`bound at +${(boundAtMs - startedMs).toFixed(1)} ms, SERVING seen ${(seenAtMs - boundAtMs).toFixed(1)} ms later (probe ${result.latencyMs} ms, polling lag ${lagMs.toFixed(1)} ms), ${probes.length} probes`)
  })

  test('returns the last failure once start_timeout has passed', async () => {
    const port = await unusedPort()
    const startedMs = performance.now()
    const result = await waitUntilServing(targetFor(port, certs), {startTimeoutMs: 300, timeoutMs: 1000})
    const tookMs = performance.now() - startedMs
    expect(result).toMatchObject({status: 'UNREACHABLE', reason: `nothing is listening on 127.0.0.1:${port} (the kernel's socket table shows no listener; not dialled)`})
    expect(tookMs).toBeGreaterThanOrEqual(295)
    // Well before anything like a second start_timeout: it does not wait on after the deadline.
    expect(tookMs).toBeLessThan(2000)
  })

  test('keeps a reason that is not a timeout: a certificate problem stays TLS_ERROR to the end', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs: sets.expiredServer})
    const probes: ProbeResult[] = []
    const result = await waitUntilServing(targetFor(service.port, sets.expiredServer), {
      startTimeoutMs: 600,
      timeoutMs: 2000,
      onProbe: (r) => probes.push(r),
    })
    expect(result.status).toBe('TLS_ERROR')
    expect(result.reason).toMatch(/^the server's certificate expired on /)
    // Handshakes are not free: pauses double (5, 10, 20 ... 200 ms) once the port listens.
    expect(probes.length).toBeLessThan(12)
  })

  test('leaves the SERVING channel open in the channels it was given', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    const channels = new ProbeChannels()
    try {
      const target = targetFor(service.port, certs)
      expect((await waitUntilServing(target, {startTimeoutMs: 5000, timeoutMs: 1000, channels})).status).toBe('SERVING')
      const client = channels.clientFor(target)
      expect(client).toBeDefined()
      expect((await channels.probe(target, {timeoutMs: 1000})).status).toBe('SERVING')
      expect(channels.clientFor(target)).toBe(client)
    } finally {
      channels.close()
    }
  })

  test('rejects with the abort reason when its signal aborts', async () => {
    const port = await unusedPort()
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('stop requested')), 100)
    const startedMs = performance.now()
    await expect(
      waitUntilServing(targetFor(port, certs), {startTimeoutMs: 10_000, timeoutMs: 1000, signal: controller.signal}),
    ).rejects.toThrow('stop requested')
    // Far sooner than start_timeout (10 s): the abort ends the wait.
    expect(performance.now() - startedMs).toBeLessThan(5000)
  })
})
