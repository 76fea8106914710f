// The foreign-ports and registry-ports checks over holders given to them: a foreign
// listener on a port a service needs, qm's own process taking a port as a connection's
// source, a service on its own port, and registry rows held by someone else.
import {describe, expect, test} from 'vitest'
import {checkForeignPorts, checkRegistryPorts, type HeldPortsFacts} from '../../src/doctor/held-ports.js'
import type {PortHolder} from '../../src/net/port-holders.js'
import type {TcpState} from '../../src/net/socket-table.js'

const NO_SUCH_PID = 4_194_304 // above Linux's pid_max limit: never a process

function holder(pid: number, command: string, state: TcpState, localPort: number, remotePort = 0): PortHolder {
  return {
    pid,
    command,
    otherPids: [],
    state,
    socket: {family: 4, localAddress: '127.0.0.1', localPort, remoteAddress: remotePort ? '127.0.0.1' : '0.0.0.0', remotePort, state, inode: 1000 + localPort},
  }
}

function facts(holders: Array<[number, PortHolder[]]>, extra: Partial<HeldPortsFacts> = {}): HeldPortsFacts {
  return {range: [50051, 50060], holders: new Map(holders), managed: [], needed: new Map(), ...extra}
}

describe('foreign-ports', () => {
  test('OK when only qm\'s services hold ports, each its own', () => {
    const result = checkForeignPorts(facts([[50051, [holder(process.pid, 'python3 ocr.py', 'LISTEN', 50051)]]], {managed: [{name: 'ocr', pid: process.pid, port: 50051}]}))
    expect(result).toEqual({name: 'foreign-ports', status: 'OK', message: 'no process outside qm holds a port of 50051-50060 (1 socket of qm\'s services on their own ports)'})
  })

  test('FAIL for a port a service needs, WARN for one it does not, each with its fix', () => {
    const result = checkForeignPorts(
      facts(
        [
          [50052, [holder(NO_SUCH_PID, 'nc -l 50052', 'LISTEN', 50052)]],
          [50053, [holder(NO_SUCH_PID + 1, 'curl x', 'ESTABLISHED', 50053, 8000)]],
        ],
        {needed: new Map([[50052, 'the fixed port of ocr']]), reserve: 'sysctl -w net.ipv4.ip_local_reserved_ports=50051-50060'},
      ),
    )
    expect(result).toEqual({
      name: 'foreign-ports',
      status: 'FAIL',
      message: `port 50052 (the fixed port of ocr): pid ${NO_SUCH_PID} (nc -l 50052) listens on 127.0.0.1:50052; port 50053: pid ${NO_SUCH_PID + 1} (curl x) holds it as the local end of a connection 127.0.0.1:50053 → 127.0.0.1:8000 (ESTABLISHED)`,
      fix: [
        `stop pid ${NO_SUCH_PID} (kill ${NO_SUCH_PID})`,
        'port 50053: no service of this manifest needs it, and qm skips a held port when it gives out ports; to keep qm away from it for good, narrow port_range; reserve the port range so that no connection is given one of its ports: sysctl -w net.ipv4.ip_local_reserved_ports=50051-50060',
      ].join('\n'),
    })
  })

  test('WARN when qm\'s own daemon took a port of the range as a connection\'s source', () => {
    const result = checkForeignPorts(
      facts([[50055, [holder(process.pid, 'node daemon-main.js', 'ESTABLISHED', 50055, 50051)]]], {daemonPid: process.pid, reserve: 'sysctl -w net.ipv4.ip_local_reserved_ports=50051-50060'}),
    )
    expect(result).toEqual({
      name: 'foreign-ports',
      status: 'WARN',
      message: `port 50055, taken by qm's own process as a connection's source: pid ${process.pid} (node daemon-main.js) holds it as the local end of a connection 127.0.0.1:50055 → 127.0.0.1:50051 (ESTABLISHED)`,
      fix: 'reserve the port range: sysctl -w net.ipv4.ip_local_reserved_ports=50051-50060',
    })
  })
})

describe('registry-ports', () => {
  const row = (name: string, port: number) => ({id: port, name, host: 'localhost', port, protocol: 'grpc', active: true})

  test('a row of the manifest held by someone else is a FAIL; one outside it a WARN', () => {
    const f = facts(
      [
        [50051, [holder(NO_SUCH_PID, 'nc -l 50051', 'LISTEN', 50051)]],
        [50052, [holder(NO_SUCH_PID + 1, 'python3 billing.py', 'LISTEN', 50052)]],
      ],
      {managed: [{name: 'ocr', pid: process.pid, port: 50051}]},
    )
    const result = checkRegistryPorts(f, [row('ocr', 50051), row('billing', 50052), row('idle', 50053)], 'localhost', new Set(['ocr']), true)
    expect(result).toEqual({
      name: 'registry-ports',
      status: 'FAIL',
      message: [
        `ocr (port 50051): pid ${NO_SUCH_PID} (nc -l 50051) listens on 127.0.0.1:50051, not ocr's recorded pid ${process.pid}`,
        `billing (port 50052): pid ${NO_SUCH_PID + 1} (python3 billing.py) listens on 127.0.0.1:50052, and qm runs no billing (billing is not in this manifest)`,
      ].join('; '),
      fix: [
        `stop pid ${NO_SUCH_PID} (kill ${NO_SUCH_PID}); or run "qm unregister ocr" so that it takes another port`,
        `stop pid ${NO_SUCH_PID + 1} (kill ${NO_SUCH_PID + 1}), unless that process is billing run outside qm`,
      ].join('\n'),
    })
  })

  test('another host, or no rows, or a registry that could not be read', () => {
    expect(checkRegistryPorts(facts([]), [row('ocr', 50051)], 'worker-2', new Set(), false).message).toBe('registry host worker-2 is not this host: the kernel here cannot say who holds its ports')
    expect(checkRegistryPorts(facts([]), [row('ocr', 50051)], 'localhost', new Set(['ocr']), true)).toEqual({
      name: 'registry-ports',
      status: 'OK',
      message: '1 registry row for host localhost: 0 held by their own service, 1 free',
    })
    expect(checkRegistryPorts(facts([]), undefined, 'localhost', new Set(), true).status).toBe('WARN')
  })
})
