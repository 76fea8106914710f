// The probes' own gRPC client on node:http2, against a raw HTTP/2 server with mutual TLS
// that answers the way a proxy, a half-written server or a server shutting down may: what
// the grpc-js servers of the other tests never do. Each answer must become the probe result
// an operator can act on.
import {readFileSync} from 'node:fs'
import {constants, createSecureServer, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream} from 'node:http2'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {ProbeChannels, probeOnce} from '../../src/health/probe.js'
import {makeTempDir, targetFor, writeGoodSet, type CertDir} from '../health/support.js'

let tmp: ReturnType<typeof makeTempDir>
let certs: CertDir
let server: Http2SecureServer | undefined
const sessions = new Set<ServerHttp2Session>()

beforeAll(async () => {
  tmp = makeTempDir('qm-h2-')
  certs = await writeGoodSet(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(async () => {
  for (const session of sessions) session.destroy()
  sessions.clear()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

/** A server of ours on 127.0.0.1 that requires qm's client certificate; `answer` plays each request. */
async function serve(answer: (stream: ServerHttp2Stream, path: string, session: ServerHttp2Session) => void): Promise<number> {
  server = createSecureServer({
    key: readFileSync(certs.serverKey),
    cert: readFileSync(certs.serverCert),
    ca: readFileSync(certs.ca),
    requestCert: true,
    rejectUnauthorized: true,
  })
  server.on('session', (session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    // The request is read to its end, as a server does before it answers a unary call.
    stream.resume()
    stream.on('end', () => answer(stream, String(headers[':path']), stream.session as ServerHttp2Session))
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()))
  return (server!.address() as {port: number}).port
}

function grpcMessage(bytes: Buffer, compressed = false): Buffer {
  const frame = Buffer.alloc(5 + bytes.length)
  frame[0] = compressed ? 1 : 0
  frame.writeUInt32BE(bytes.length, 1)
  bytes.copy(frame, 5)
  return frame
}

describe("the probes' HTTP/2 client", () => {
  test('a plain HTTP/2 server that answers 404 implements neither RPC', async () => {
    const port = await serve((stream) => stream.respond({':status': 404}, {endStream: true}))
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000})).toMatchObject({
      status: 'PROTOCOL_ERROR',
      method: 'call',
      reason: 'the service implements neither grpc.health.v1.Health nor quantra.MicroService/Call',
    })
  })

  test('a proxy that answers 503 is not serving, with the HTTP status in the reason', async () => {
    const port = await serve((stream) => stream.respond({':status': 503}, {endStream: true}))
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'UNREACHABLE',
      method: 'grpc',
      reason: 'Received HTTP status code 503',
    })
  })

  test('a status in the headers alone (trailers-only), its message percent-decoded', async () => {
    const port = await serve((stream) =>
      stream.respond({':status': 200, 'content-type': 'application/grpc', 'grpc-status': '8', 'grpc-message': 'too%20busy%3A%20queue%20full'}, {endStream: true}),
    )
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'NOT_SERVING',
      reason: 'grpc.health.v1.Health/Check failed with RESOURCE_EXHAUSTED: too busy: queue full',
    })
  })

  test('a message split across DATA frames is read whole, and the version comes from the trailers', async () => {
    const port = await serve((stream) => {
      stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
      stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0', 'x-service-version': '4.2.0'}))
      // HealthCheckResponse{status: SERVING} (field 1 = 1), sent one byte at a time.
      const serving = grpcMessage(Buffer.from([0x08, 0x01]))
      for (const byte of serving) stream.write(Buffer.from([byte]))
      stream.end()
    })
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({status: 'SERVING', method: 'grpc', version: '4.2.0'})
  })

  test('a compressed message, which qm did not ask for, is refused with a reason', async () => {
    const port = await serve((stream) => {
      stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
      stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}))
      stream.end(grpcMessage(Buffer.from([0x08, 0x01]), true))
    })
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'NOT_SERVING',
      reason: 'grpc.health.v1.Health/Check failed with INTERNAL: the server sent a compressed message, though qm asked for none',
    })
  })

  test('a connection dropped in the middle of a call is unreachable, not a failed RPC', async () => {
    const port = await serve((_stream, _path, session) => session.destroy())
    const result = await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})
    expect(result.status).toBe('UNREACHABLE')
    expect(result.reason).toMatch(/connection was closed/)
  })

  test('a stream that ends without a gRPC status is a failed RPC that says so', async () => {
    const port = await serve((stream) => stream.respond({':status': 200, 'content-type': 'application/grpc'}, {endStream: true}))
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'NOT_SERVING',
      reason: 'grpc.health.v1.Health/Check failed with INTERNAL: Call ended without gRPC status',
    })
  })

  test('a message that says it is larger than 4 MiB is refused before it is read', async () => {
    const port = await serve((stream) => {
      stream.respond({':status': 200, 'content-type': 'application/grpc'})
      const prefix = Buffer.alloc(5)
      prefix.writeUInt32BE(5 * 1024 * 1024, 1)
      stream.write(prefix)
    })
    expect(await probeOnce(targetFor(port, certs), {timeoutMs: 2000, type: 'grpc'})).toMatchObject({
      status: 'NOT_SERVING',
      reason: 'grpc.health.v1.Health/Check failed with RESOURCE_EXHAUSTED: Received message larger than max (5242880 vs 4194304)',
    })
  })

  test('a stream refused with RST_STREAM is unreachable; a connection the server sent GOAWAY on is replaced', async () => {
    let refuse = true
    let goneAway = false
    const port = await serve((stream, _path, session) => {
      if (refuse) {
        stream.close(constants.NGHTTP2_REFUSED_STREAM)
        return
      }
      stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
      stream.on('wantTrailers', () => {
        stream.sendTrailers({'grpc-status': '0'})
        // Going away after its first answer: the next probe must use a new connection.
        if (!goneAway) session.goaway()
        goneAway = true
      })
      stream.end(grpcMessage(Buffer.from([0x08, 0x01])))
    })
    const channels = new ProbeChannels()
    try {
      const target = targetFor(port, certs)
      expect(await channels.probe(target, {timeoutMs: 2000, type: 'grpc'})).toMatchObject({status: 'UNREACHABLE', reason: 'Stream refused by server'})
      refuse = false
      expect(await channels.probe(target, {timeoutMs: 2000, type: 'grpc'})).toMatchObject({status: 'SERVING'})
      const first = channels.clientFor(target)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(first?.isReady).toBe(false)
      expect(await channels.probe(target, {timeoutMs: 2000, type: 'grpc'})).toMatchObject({status: 'SERVING'})
      expect(first?.isReady).toBe(true)
    } finally {
      channels.close()
    }
  })
})
