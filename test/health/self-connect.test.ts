// The port-range hazard: 50051-50090 lie in Linux's ephemeral range, so a dial to a port of
// this host that nobody listens on can connect to itself. These tests make it happen on
// purpose, then show that qm's probing of such a port leaves it free for the service.
import {spawnSync} from 'node:child_process'
import {connect, createServer, type Server} from 'node:net'
import {afterEach, beforeAll, afterAll, describe, expect, test} from 'vitest'
import {ProbeChannels} from '../../src/health/probe.js'
import {waitUntilServing} from '../../src/health/wait.js'
import {readSocketTable} from '../../src/net/socket-table.js'
import {
  generatePythonStubs,
  makeTempDir,
  PYTHON,
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

/** A port the kernel would hand out as an ephemeral source: bound once on port 0, then released. */
async function unusedEphemeralPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function socketsOnPort(port: number) {
  return readSocketTable().filter((s) => s.localPort === port || s.remotePort === port)
}

async function bindStatus(port: number): Promise<'bound' | string> {
  const server: Server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    return 'bound'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err)
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe('the self-connect hazard is real', () => {
  test('a socket bound to port P that dials 127.0.0.1:P with nothing listening connects to itself', async () => {
    const port = await unusedEphemeralPort()
    const socket = connect({port, host: '127.0.0.1', localPort: port, localAddress: '127.0.0.1'})
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve())
        socket.once('error', reject)
      })
      // TCP simultaneous open: the SYN it sent is the SYN it receives.
      expect([socket.localPort, socket.remotePort]).toEqual([port, port])
      expect(socketsOnPort(port)).toEqual([
        {family: 4, localAddress: '127.0.0.1', localPort: port, remoteAddress: '127.0.0.1', remotePort: port, state: 'ESTABLISHED', inode: expect.any(Number)},
      ])
    } finally {
      socket.destroy()
    }
  })

  test('a client socket that connected to itself leaves a TIME_WAIT that keeps the service from binding', async () => {
    const port = await unusedEphemeralPort()
    // Node sets SO_REUSEADDR on every socket it binds; an ordinary client's socket (the
    // kernel-chosen source port of a poller) has no such flag, which python's socket shows.
    const selfConnect = spawnSync(
      PYTHON,
      ['-c', `import socket\ns = socket.socket()\ns.bind(("127.0.0.1", ${port}))\ns.connect(("127.0.0.1", ${port}))\nprint(s.getsockname()[1], s.getpeername()[1])\ns.close()`],
      {encoding: 'utf8'},
    )
    expect(selfConnect.stderr).toBe('')
    expect(selfConnect.stdout.trim()).toBe(`${port} ${port}`)
    expect(socketsOnPort(port).map((s) => s.state)).toEqual(['TIME_WAIT'])
    expect(await bindStatus(port)).toBe('EADDRINUSE')
    if (pythonStubs.ok) {
      // And the guide's own service, which is what lost its port in the peers' runs.
      await expect(startPythonGuide(tmp.dir, {certs, port, readyTimeoutMs: 10_000})).rejects.toThrow(/Failed to bind to address/)
    }
  })
})

describe("qm's probing never causes it", () => {
  test('probes of a port with nothing listening do not dial, and the service then binds it', async () => {
    const port = await unusedEphemeralPort()
    const channels = new ProbeChannels()
    try {
      for (let i = 0; i < 200; i++) {
        const result = await channels.probe(targetFor(port, certs), {timeoutMs: 2000, type: i % 2 === 0 ? 'auto' : 'tcp'})
        expect(result.status).toBe('UNREACHABLE')
        expect(result.reason).toBe(`nothing is listening on 127.0.0.1:${port} (the kernel's socket table shows no listener; not dialled)`)
      }
      expect(channels.size).toBe(0)
    } finally {
      channels.close()
    }
    expect(socketsOnPort(port)).toEqual([])
    const service = pythonStubs.ok
      ? await startPythonGuide(tmp.dir, {certs, port})
      : await startNodeFixture('guide-call-server.mjs', {certs, port})
    expect(service.port).toBe(port)
  })

  test('a waiter polling from before the service starts sees it SERVING on the port it asked for', async () => {
    const port = await unusedEphemeralPort()
    const waiting = waitUntilServing(targetFor(port, certs), {startTimeoutMs: 15_000, timeoutMs: 2000})
    await new Promise((resolve) => setTimeout(resolve, 150))
    const service = pythonStubs.ok
      ? await startPythonGuide(tmp.dir, {certs, port})
      : await startNodeFixture('guide-call-server.mjs', {certs, port})
    expect(service.port).toBe(port)
    await expect(waiting).resolves.toMatchObject({status: 'SERVING', method: 'call', version: '1.0.0'})
  })
})
