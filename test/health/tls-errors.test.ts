// Each certificate fault an operator meets, against the Node guide-style service and the
// Python service written to the guide (gRPC core's TLS), with the reason qm gives.
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {probeOnce} from '../../src/health/probe.js'
import type {ProbeResult} from '../../src/grpc/types.js'
import {
  generatePythonStubs,
  makeTempDir,
  startNodeFixture,
  startPythonGuide,
  stopAllServices,
  targetFor,
  writeBrokenSets,
  type CertDir,
  type RunningService,
  type StartOptions,
} from './support.js'

let tmp: ReturnType<typeof makeTempDir>
let sets: Awaited<ReturnType<typeof writeBrokenSets>>
let pythonStubs: {ok: true} | {ok: false; reason: string}

beforeAll(async () => {
  tmp = makeTempDir()
  sets = await writeBrokenSets(tmp.dir)
  pythonStubs = generatePythonStubs(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(stopAllServices)

const services = {
  node: (options: StartOptions) => startNodeFixture('guide-call-server.mjs', options),
  python: (options: StartOptions) => startPythonGuide(tmp.dir, options),
}

async function probe(service: RunningService, certs: CertDir, serverName?: string): Promise<ProbeResult> {
  return probeOnce(targetFor(service.port, certs, serverName ? {serverName} : {}), {timeoutMs: 2000})
}

describe.each(['node', 'python'] as const)('TLS_ERROR from the %s service', (kind) => {
  const start = (certs: CertDir, skip: (note: string) => never) => {
    if (kind === 'python' && !pythonStubs.ok) skip(`skipped: ${pythonStubs.reason}`)
    return services[kind]({certs})
  }

  test('qm trusts another CA than the one that signed the server certificate', async ({skip}) => {
    const service = await start(sets.good, skip)
    expect(await probe(service, sets.wrongCa)).toMatchObject({
      status: 'TLS_ERROR',
      reason: `the server's certificate is not signed by ca.crt (${join(sets.wrongCa.dir, 'ca.crt')})`,
    })
  })

  test('the server certificate has expired', async ({skip}) => {
    const service = await start(sets.expiredServer, skip)
    const result = await probe(service, sets.expiredServer)
    expect(result.status).toBe('TLS_ERROR')
    expect(result.reason).toMatch(/^the server's certificate expired on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
  })

  test('the client certificate is signed by a CA the service does not trust', async ({skip}) => {
    const service = await start(sets.good, skip)
    expect(await probe(service, sets.foreignClient)).toMatchObject({
      status: 'TLS_ERROR',
      reason:
        `the server rejected the client certificate ${sets.foreignClient.clientCert}: it closed the connection as soon as the TLS handshake was done; ` +
        'it is not signed by ca.crt, the CA qm trusts (its issuer is CN=some other CA)',
    })
  })

  test('the server certificate does not carry the name qm expects', async ({skip}) => {
    const service = await start(sets.otherName, skip)
    expect(await probe(service, sets.otherName)).toMatchObject({
      status: 'TLS_ERROR',
      reason:
        "the server's certificate is not valid for the name localhost (it names DNS:other.example); set the expected name with --server-name or health.server_name",
    })
    // And with the name it does carry, the same service is SERVING.
    expect((await probe(service, sets.otherName, 'other.example')).status).toBe('SERVING')
  })
})
