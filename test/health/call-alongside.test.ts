// An `auto` probe of a target whose last connection found no grpc.health.v1 (a restarted
// guide service) sends its Call together with the Check rather than after its
// UNIMPLEMENTED; the Check still decides. A real grpc-js server in this process, with mTLS,
// records when each RPC arrives and holds the Check's answer back for a while.
import {readFileSync} from 'node:fs'
import * as grpc from '@grpc/grpc-js'
import {loadSync} from '@grpc/proto-loader'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {ProbeChannels} from '../../src/health/probe.js'
import type {ProbeTarget} from '../../src/grpc/types.js'
import {makeTempDir, PROTO_DIR, targetFor, writeGoodSet, type CertDir} from './support.js'

let tmp: ReturnType<typeof makeTempDir>
let certs: CertDir
const servers: grpc.Server[] = []

beforeAll(async () => {
  tmp = makeTempDir()
  certs = await writeGoodSet(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown()
})

const definition = loadSync(['health.proto', 'microservice.proto'], {includeDirs: [PROTO_DIR], keepCase: true, enums: String, defaults: true})

/** What the service answers to the Check: a status, UNIMPLEMENTED as a guide service would, or an error. */
type HealthAnswer = 'UNIMPLEMENTED' | 'SERVING' | 'NOT_SERVING' | 'INTERNAL'

interface Recorder {
  port: number
  health: HealthAnswer
  /** How long the Call waits before its end-of-stream frame. */
  callDelayMs: number
  events: string[]
}

/** A service that answers Call with an end-of-stream frame and the Check after CHECK_DELAY_MS, with whatever `health` says then. */
async function bindService(): Promise<Recorder> {
  const recorder: Recorder = {port: 0, health: 'UNIMPLEMENTED', callDelayMs: 0, events: []}
  const server = new grpc.Server()
  servers.push(server)
  server.addService(definition['quantra.MicroService'] as grpc.ServiceDefinition, {
    Call(stream: grpc.ServerDuplexStream<{payload: string}, {payload: string}>) {
      recorder.events.push('call received')
      stream.on('cancelled', () => recorder.events.push('call cancelled'))
      const answer = () => {
        recorder.events.push('call answered')
        stream.write({payload: JSON.stringify({oauth2: {}, data: [], tod: 'object', eos: true})})
        stream.end()
      }
      // Read to the client's half-close, then answer.
      stream.on('data', () => undefined)
      stream.on('end', () => setTimeout(answer, recorder.callDelayMs))
    },
  })
  server.addService(definition['grpc.health.v1.Health'] as grpc.ServiceDefinition, {
    Check(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{status: string}>) {
      recorder.events.push('check received')
      setTimeout(() => {
        recorder.events.push('check answered')
        if (recorder.health === 'UNIMPLEMENTED') callback({code: grpc.status.UNIMPLEMENTED, details: 'no health service here'})
        else if (recorder.health === 'INTERNAL') callback({code: grpc.status.INTERNAL, details: 'the health service broke'})
        else callback(null, {status: recorder.health})
      }, CHECK_DELAY_MS)
    },
  })
  const credentials = grpc.ServerCredentials.createSsl(readFileSync(certs.ca), [{private_key: readFileSync(certs.serverKey), cert_chain: readFileSync(certs.serverCert)}], true)
  recorder.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))))
  return recorder
}

const CHECK_DELAY_MS = 150

/** Waits, within the 2 s a delayed Call takes to answer, for what the server should see. */
async function eventually(seen: () => boolean): Promise<void> {
  const deadline = performance.now() + 1500
  while (!seen() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
}

async function until(seen: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000
  while (!seen()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A service of its own and a channel pool for one test, closed whatever the test does. */
async function withService(body: (probed: {service: Recorder; target: ProbeTarget; channels: ProbeChannels}) => Promise<void>): Promise<void> {
  const service = await bindService()
  const channels = new ProbeChannels()
  try {
    await body({service, target: targetFor(service.port, certs), channels})
  } finally {
    channels.close()
  }
}

/** A new connection, as after a restart, with what the service saw so far forgotten. */
function reconnect(service: Recorder, target: ProbeTarget, channels: ProbeChannels): void {
  channels.drop(target)
  service.events.length = 0
}

describe('an auto probe after a connection that found no health service', () => {
  test('a new connection sends the Call beside the Check, and the answer is the Call’s', () =>
    withService(async ({service, target, channels}) => {
      // First connection: nothing is known, so the Check goes first and the Call after it.
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'SERVING', method: 'call'})
      expect(service.events.slice(0, 3)).toEqual(['check received', 'check answered', 'call received'])
      // On that connection the service is known to lack it: Call only.
      service.events.length = 0
      await channels.probe(target, {timeoutMs: 3000})
      expect(service.events.filter((event) => event.startsWith('check'))).toEqual([])

      // A new connection (as after a restart) asks the Check again, with the Call beside it.
      reconnect(service, target, channels)
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'SERVING', method: 'call'})
      expect(service.events.indexOf('call received')).toBeLessThan(service.events.indexOf('check answered'))
      expect(service.events).toContain('check received')
    }))

  test('a service that now implements the health service is judged by it, not by the Call beside it', () =>
    withService(async ({service, target, channels}) => {
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'SERVING', method: 'call'})
      // "Upgraded": its health service now says NOT_SERVING, although its Call would answer.
      service.health = 'NOT_SERVING'
      reconnect(service, target, channels)
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'NOT_SERVING', method: 'grpc'})
      expect(service.events).toContain('call received')

      // Having answered, it is asked the Check alone again on a new connection.
      service.health = 'SERVING'
      reconnect(service, target, channels)
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'SERVING', method: 'grpc'})
      expect(service.events).toEqual(['check received', 'check answered'])
    }))

  test('what an earlier daemon learnt counts from the first connection', () =>
    withService(async ({service, target, channels}) => {
      channels.expectNoHealthService(target)
      expect(await channels.probe(target, {timeoutMs: 3000})).toMatchObject({status: 'SERVING', method: 'call'})
      expect(service.events.indexOf('call received')).toBeLessThan(service.events.indexOf('check answered'))
    }))

  test('a Check that fails decides, and the Call beside it is cancelled', () =>
    withService(async ({service, target, channels}) => {
      await channels.probe(target, {timeoutMs: 3000})
      service.health = 'INTERNAL'
      service.callDelayMs = 2000
      reconnect(service, target, channels)
      const result = await channels.probe(target, {timeoutMs: 3000})
      expect(result.method).toBe('grpc')
      expect(result.status).not.toBe('SERVING')
      expect(result.reason).toContain('the health service broke')
      // The Call would answer 2 s on; it was cancelled as soon as the Check had decided.
      await eventually(() => service.events.includes('call cancelled'))
      expect(service.events).toContain('call received')
      expect(service.events).toContain('call cancelled')
      expect(service.events).not.toContain('call answered')
    }))

  test('a probe whose caller gives up ends both RPCs', () =>
    withService(async ({service, target, channels}) => {
      await channels.probe(target, {timeoutMs: 3000})
      service.callDelayMs = 2000
      reconnect(service, target, channels)
      const caller = new AbortController()
      const failure = channels.probe(target, {timeoutMs: 3000, signal: caller.signal}).then(() => 'answered', (error: Error) => error.message)
      // Given up once both RPCs have reached the service, not after a fixed time: on a busy
      // machine the new connection's handshake alone can take longer than that.
      await until(() => service.events.includes('call received') && service.events.includes('check received'), 'both RPCs to reach the service')
      caller.abort(new Error('the start was stopped'))
      expect(await failure).toBe('the start was stopped')
      await eventually(() => service.events.includes('call cancelled'))
      expect(service.events).toContain('call cancelled')
      expect(service.events).not.toContain('call answered')
    }))

  test('type: grpc never sends a Call, whatever was learnt before', () =>
    withService(async ({service, target, channels}) => {
      await channels.probe(target, {timeoutMs: 3000})
      reconnect(service, target, channels)
      expect(await channels.probe(target, {timeoutMs: 3000, type: 'grpc'})).toMatchObject({status: 'PROTOCOL_ERROR', method: 'grpc'})
      expect(service.events).toEqual(['check received', 'check answered'])
    }))
})
