import {connect, createServer, type Server, type Socket} from 'node:net'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, test} from 'vitest'
import {
  canReadSocketTable,
  isListening,
  isListeningOn,
  listeningPorts,
  readListeners,
  readSocketTable,
  SocketTableUnavailableError,
} from '../../src/net/socket-table.js'

const open: Array<Server | Socket> = []

afterEach(async () => {
  const things = open.splice(0)
  for (const thing of things) if (!('listening' in thing)) thing.destroy()
  for (const thing of things) if ('listening' in thing) await new Promise<void>((resolve) => thing.close(() => resolve()))
})

async function listen(host: string, port = 0): Promise<number> {
  const server = createServer((socket) => {
    // Accepted ends close with the test; a reset from a destroyed client is expected.
    socket.on('error', () => {})
    open.push(socket)
  })
  open.push(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({port, host, ipv6Only: false}, () => resolve())
  })
  return (server.address() as {port: number}).port
}

describe('the kernel socket table', () => {
  test('lists a port listening on 127.0.0.1, and not once it is closed', async () => {
    const port = await listen('127.0.0.1')
    expect(listeningPorts().has(port)).toBe(true)
    expect(isListening(port)).toBe(true)
    await new Promise<void>((resolve) => (open.pop() as Server).close(() => resolve()))
    expect(isListening(port)).toBe(false)
  })

  test('reads tcp6: a listener on [::] is found, and accepts 127.0.0.1 and ::1', async () => {
    const port = await listen('::')
    const listener = readListeners().find((s) => s.localPort === port)
    expect(listener).toMatchObject({family: 6, localAddress: '::', state: 'LISTEN'})
    expect(isListeningOn('127.0.0.1', port)).toBe(true)
    expect(isListeningOn('::1', port)).toBe(true)
  })

  test('a listener on 127.0.0.1 does not make ::1 or 127.0.0.2 reachable', async () => {
    const port = await listen('127.0.0.1')
    expect(isListeningOn('127.0.0.1', port)).toBe(true)
    expect(isListeningOn('::1', port)).toBe(false)
    expect(isListeningOn('127.0.0.2', port)).toBe(false)
  })

  test('decodes both ends and the state of an established connection', async () => {
    const port = await listen('127.0.0.1')
    const client = connect({port, host: '127.0.0.1'})
    open.push(client)
    await new Promise<void>((resolve) => client.once('connect', () => resolve()))
    const mine = readSocketTable().find((s) => s.localPort === client.localPort && s.remotePort === port)
    expect(mine).toEqual({
      family: 4,
      localAddress: '127.0.0.1',
      localPort: client.localPort,
      remoteAddress: '127.0.0.1',
      remotePort: port,
      state: 'ESTABLISHED',
      inode: expect.any(Number),
    })
    expect(mine!.inode).toBeGreaterThan(0)
  })

  test('decodes IPv6 and IPv4-mapped addresses as Node prints them', async () => {
    const port = await listen('::')
    const v6 = connect({port, host: '::1'})
    const mapped = connect({port, host: '127.0.0.1'})
    open.push(v6, mapped)
    await Promise.all([v6, mapped].map((s) => new Promise<void>((resolve) => s.once('connect', () => resolve()))))
    const table = readSocketTable()
    // The server's accepted ends, seen from the listening side.
    expect(table.find((s) => s.localPort === port && s.remotePort === v6.localPort)).toMatchObject({localAddress: '::1', remoteAddress: '::1'})
    expect(table.find((s) => s.localPort === port && s.remotePort === mapped.localPort)).toMatchObject({
      localAddress: '::ffff:127.0.0.1',
      remoteAddress: '::ffff:127.0.0.1',
    })
  })

  test('a table that cannot be read is an error, not an empty set', () => {
    const missing = ['/nonexistent/proc/net/tcp', '/nonexistent/proc/net/tcp6']
    expect(() => listeningPorts(missing)).toThrow(SocketTableUnavailableError)
    expect(() => listeningPorts(missing)).toThrow('cannot read the kernel socket table: /nonexistent/proc/net/tcp: ENOENT, /nonexistent/proc/net/tcp6: ENOENT')
    expect(canReadSocketTable(missing)).toBe(false)
  })

  test('parses the kernel format, including a host without tcp6', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qm-socket-table-'))
    try {
      const file = join(dir, 'tcp')
      writeFileSync(
        file,
        [
          '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
          '   0: 0100007F:C353 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
          '   1: 00000000:C354 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 100 0 0 10 0',
          '   2: 0100007F:C353 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4244 1 0000000000000000 20 4 30 10 -1',
          '   3: 0100007F:C355 0100007F:C355 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
          '',
        ].join('\n'),
      )
      const files = [file, join(dir, 'tcp6')]
      expect([...listeningPorts(files)].sort()).toEqual([50003, 50004])
      expect(readSocketTable(files).map((s) => `${s.localAddress}:${s.localPort} ${s.remoteAddress}:${s.remotePort} ${s.state}`)).toEqual([
        '127.0.0.1:50003 0.0.0.0:0 LISTEN',
        '0.0.0.0:50004 0.0.0.0:0 LISTEN',
        '127.0.0.1:50003 127.0.0.1:40000 ESTABLISHED',
        '127.0.0.1:50005 127.0.0.1:50005 TIME_WAIT',
      ])
      // The inode links a socket to the processes holding it; a TIME_WAIT has none.
      expect(readSocketTable(files).map((s) => s.inode)).toEqual([4242, 4243, 4244, 0])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
