// Kept channels: the daemon probes each service every interval over one open connection,
// so a steady-state probe is a request on a warm HTTP/2 connection with no TLS handshake.
import {copyFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {probeOnce, ProbeChannels} from '../../src/health/probe.js'
import {readSocketTable} from '../../src/net/socket-table.js'
import {makeTempDir, startNodeFixture, stopAllServices, targetFor, writeGoodSet, type CertDir} from './support.js'

let tmp: ReturnType<typeof makeTempDir>
let certs: CertDir

beforeAll(async () => {
  tmp = makeTempDir()
  certs = await writeGoodSet(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(stopAllServices)

/** Source ports of this host's established connections to the port: qm's side of each one. */
function connectionsTo(port: number): number[] {
  return readSocketTable()
    .filter((s) => s.remotePort === port && s.state === 'ESTABLISHED')
    .map((s) => s.localPort)
}

async function waitFor<T>(check: () => T, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const startedMs = performance.now()
  for (;;) {
    const value = check()
    if (ok(value)) return value
    if (performance.now() - startedMs > timeoutMs) {
      throw new Error(`expected ${what} within ${timeoutMs} ms; last saw ${JSON.stringify(value)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

describe('ProbeChannels', () => {
  test('reuses one client and one connection for every steady-state probe', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    const target = targetFor(service.port, certs)
    const channels = new ProbeChannels()
    try {
      const first = await channels.probe(target, {timeoutMs: 2000})
      expect(first.status).toBe('SERVING')
      const client = channels.clientFor(target)
      const connections = connectionsTo(service.port)
      expect(connections).toHaveLength(1)

      const steady: number[] = []
      for (let i = 0; i < 20; i++) {
        const result = await channels.probe(target, {timeoutMs: 2000})
        expect(result).toMatchObject({status: 'SERVING', method: 'call', version: '1.0.0'})
        steady.push(result.latencyMs)
      }
      expect(channels.clientFor(target)).toBe(client)
      expect(channels.size).toBe(1)
      // The same source port: no new TCP connection, hence no new handshake.
      expect(connectionsTo(service.port)).toEqual(connections)
      console.info(`first probe ${first.latencyMs} ms, steady-state median ${median(steady)} ms`)
    } finally {
      channels.close()
    }
    await waitFor(() => connectionsTo(service.port), (c) => c.length === 0, 2000, 'close() to close the connection')
  })

  test('the first probes of several services at once share one TLS context, made once from one reading of the files', async () => {
    const services = await Promise.all([0, 1, 2, 3].map(() => startNodeFixture('guide-call-server.mjs', {certs})))
    const targets = services.map((service) => targetFor(service.port, certs))
    const channels = new ProbeChannels()
    try {
      const results = await Promise.all(targets.map((target) => channels.probe(target, {timeoutMs: 2000})))
      expect(results.map((result) => result.status)).toEqual(['SERVING', 'SERVING', 'SERVING', 'SERVING'])
      // Each channel holds the context it connects with (some 40 KiB each when they differ).
      const contexts = new Set(targets.map((target) => (channels.clientFor(target) as unknown as {secureContext: unknown}).secureContext))
      expect(contexts.size).toBe(1)
    } finally {
      channels.close()
    }
  })

  test('probes at once of a certificate set with a file missing each say which, and the set is read again once it is there', async () => {
    const services = await Promise.all([0, 1].map(() => startNodeFixture('guide-call-server.mjs', {certs})))
    const clientKey = join(tmp.dir, 'later', 'client.key')
    const targets = services.map((service) => targetFor(service.port, {...certs, clientKey}))
    const channels = new ProbeChannels()
    try {
      const refused = await Promise.allSettled(targets.map((target) => channels.probe(target, {timeoutMs: 2000})))
      for (const outcome of refused) expect(outcome).toMatchObject({status: 'rejected', reason: {code: 'CERTS_UNREADABLE', message: `cannot read ${clientKey}: ENOENT`}})
      expect(channels.size).toBe(0)
      mkdirSync(join(tmp.dir, 'later'))
      copyFileSync(certs.clientKey, clientKey)
      const results = await Promise.all(targets.map((target) => channels.probe(target, {timeoutMs: 2000})))
      expect(results.map((result) => result.status)).toEqual(['SERVING', 'SERVING'])
    } finally {
      channels.close()
    }
  })

  test('after the service dies it reports UNREACHABLE without dialling, then opens a new channel when it is back', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs})
    const target = targetFor(service.port, certs)
    const channels = new ProbeChannels()
    try {
      expect((await channels.probe(target, {timeoutMs: 2000})).status).toBe('SERVING')
      const before = channels.clientFor(target)
      await service.stop()

      const down = await channels.probe(target, {timeoutMs: 2000})
      expect(down.status).toBe('UNREACHABLE')
      expect(channels.size).toBe(0)

      const again = await startNodeFixture('health-server.mjs', {certs, port: service.port})
      expect((await channels.probe(target, {timeoutMs: 2000})).status).toBe('SERVING')
      expect(channels.clientFor(target)).not.toBe(before)
      await again.stop()
    } finally {
      channels.close()
    }
  })

  test('probeOnce closes its connection', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    expect((await probeOnce(targetFor(service.port, certs), {timeoutMs: 2000})).status).toBe('SERVING')
    await waitFor(() => connectionsTo(service.port), (c) => c.length === 0, 2000, 'no connection left open')
  })

  test('a failed probe does not keep its channel, so grpc-js cannot redial on its own', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs})
    const channels = new ProbeChannels()
    try {
      const result = await channels.probe(targetFor(service.port, certs, {serverName: 'wrong.example'}), {timeoutMs: 2000})
      expect(result.status).toBe('TLS_ERROR')
      expect(channels.size).toBe(0)
    } finally {
      channels.close()
    }
  })
})
