// Who holds a port, named from the kernel's socket table and /proc: real processes
// listening on a port, connected from it, and a TIME_WAIT left by a connection to itself.
import {describe, expect, test} from 'vitest'
import {describePortHolders, explainPortHolders, findPortHolders} from '../../src/net/port-holders.js'
import {readSocketTable} from '../../src/net/socket-table.js'
import {assertPortFree, bindFailure, portHolder, SpawnRefused} from '../../src/supervisor/preflight.js'
import {freePort} from '../helpers/listen.js'
import {holdPort, selfConnect} from '../helpers/port-holder.js'

describe('the holders of a port', () => {
  test('a process listening on it: its pid, command and address, from the socket inode', async () => {
    const port = await freePort()
    const holder = await holdPort(port, 'listen')
    const listener = readSocketTable().find((s) => s.localPort === port && s.state === 'LISTEN')!
    expect(listener.inode).toBeGreaterThan(0)
    expect(findPortHolders(port)).toEqual([{pid: holder.pid, command: holder.command, otherPids: [], state: 'LISTEN', socket: listener}])
    expect(describePortHolders(port)).toBe(`pid ${holder.pid} (${holder.command}) listens on 127.0.0.1:${port}`)
  })

  test('a process with a connection from it: the local end of that connection', async () => {
    const port = await freePort()
    const holder = await holdPort(port, 'connect')
    const socket = readSocketTable().find((s) => s.localPort === port)!
    expect(describePortHolders(port)).toBe(
      `pid ${holder.pid} (${holder.command}) holds it as the local end of a connection 127.0.0.1:${port} → 127.0.0.1:${socket.remotePort} (ESTABLISHED)`,
    )
  })

  test('a TIME_WAIT of a connection to itself: no process, and the kernel frees it within 60 s', async () => {
    const port = await freePort()
    selfConnect(port)
    expect(findPortHolders(port).map((h) => [h.state, h.pid, h.socket.inode])).toEqual([['TIME_WAIT', undefined, 0]])
    const holding = explainPortHolders(port, findPortHolders(port), {reserve: 'sysctl -w net.ipv4.ip_local_reserved_ports=50051-50090'})!
    expect(holding.what).toBe(`a closed connection 127.0.0.1:${port} → 127.0.0.1:${port} in TIME_WAIT, a connection to itself, which no process owns; the kernel frees it within 60 s`)
    expect(holding.fix).toBe(
      'wait up to 60 s, then start it again; reserve the port range so that no connection is given one of its ports as its source: sysctl -w net.ipv4.ip_local_reserved_ports=50051-50090',
    )
  })

  test('a free port', async () => {
    const port = await freePort()
    expect(findPortHolders(port)).toEqual([])
    expect(describePortHolders(port)).toBe('nothing holds it now')
  })
})

describe('refusing a held port before a spawn', () => {
  test('names the holder and says what to do, for an auto and a fixed port', async () => {
    const port = await freePort()
    const holder = await holdPort(port, 'listen')
    const refusal = (options: Parameters<typeof assertPortFree>[2]) => {
      try {
        assertPortFree('ocr', port, options)
      } catch (error) {
        return error as SpawnRefused
      }
      throw new Error('not refused')
    }
    const auto = refusal({})
    expect(auto).toBeInstanceOf(SpawnRefused)
    expect([auto.code, auto.message, auto.hint]).toEqual([
      'PORT_IN_USE',
      `port ${port} is already in use: pid ${holder.pid} (${holder.command}) listens on 127.0.0.1:${port}`,
      `stop pid ${holder.pid} (kill ${holder.pid}); or run "qm unregister ocr" so that its next start takes a free port`,
    ])
    expect(refusal({fixed: true, registered: true}).hint).toBe(
      `stop pid ${holder.pid} (kill ${holder.pid}); or give ocr another port in the manifest (port: auto takes a free one) and run "qm unregister ocr"`,
    )
  })

  test('a connection from the port is refused too, with the reservation that prevents it', async () => {
    const port = await freePort()
    const holder = await holdPort(port, 'connect')
    const range: [number, number] = [port, port]
    try {
      assertPortFree('ocr', port, {range})
      throw new Error('not refused')
    } catch (error) {
      expect((error as SpawnRefused).message).toMatch(new RegExp(`^port ${port} is already in use: pid ${holder.pid} \\(.*hold-port\\.mjs connect ${port}\\) holds it as the local end of a connection`))
      expect((error as SpawnRefused).hint).toBe(
        `stop pid ${holder.pid} (kill ${holder.pid}); reserve the port range so that no connection is given one of its ports as its source: sysctl -w net.ipv4.ip_local_reserved_ports=${port}; or run "qm unregister ocr" so that its next start takes a free port`,
      )
    }
  })

  test('a TIME_WAIT does not refuse a start (services bind past their own), but explains a bind that then failed', async () => {
    const port = await freePort()
    selfConnect(port)
    expect(portHolder(port)).toBeUndefined()
    expect(() => assertPortFree('ocr', port)).not.toThrow()
    // A connection to itself is named even when the log says nothing of a bind...
    expect(bindFailure(port, [])?.what).toMatch(/in TIME_WAIT, a connection to itself/)
    // ...and the log's failed bind is what names any other TIME_WAIT.
    expect(bindFailure(port, [`cannot bind port ${port}: No address added out of total 1 resolved`])?.fix).toBe('wait up to 60 s, then start it again')
  })
})
