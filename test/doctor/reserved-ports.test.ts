// The reserved-ports check and qm start's warning, read from sysctl files written per test
// (the seam for settings no test may change on the host).
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {checkReservedPorts} from '../../src/doctor/reserved-ports.js'
import {reservedPortsWarning} from '../../src/net/port-sysctls.js'
import {tempDir} from '../helpers/temp-dir.js'

function sysctls(portRange: string, reserved: string) {
  const dir = tempDir('qm-sysctl-')
  const files = {range: join(dir, 'ip_local_port_range'), reserved: join(dir, 'ip_local_reserved_ports')}
  writeFileSync(files.range, `${portRange}\n`)
  writeFileSync(files.reserved, `${reserved}\n`)
  return files
}

describe('reserved-ports', () => {
  test('WARN for a range inside the ephemeral range and not reserved, with the sysctl line and the file to write', () => {
    expect(checkReservedPorts([50051, 50090], sysctls('32768\t60999', ''))).toEqual({
      name: 'reserved-ports',
      status: 'WARN',
      message:
        'ports 50051-50090 lie in the ephemeral range 32768-60999 and are not reserved (net.ipv4.ip_local_reserved_ports is empty): any outgoing connection on this host can be given one as its source port and keep a service from binding it',
      fix: [
        'sysctl -w net.ipv4.ip_local_reserved_ports=50051-50090',
        'and, to keep it after a reboot, write /etc/sysctl.d/60-qm-ports.conf containing:',
        'net.ipv4.ip_local_reserved_ports = 50051-50090',
      ].join('\n'),
    })
  })

  test('names the ports left when part of the range is reserved, and keeps what others reserved', () => {
    const result = checkReservedPorts([50051, 50090], sysctls('32768\t60999', '8080,50051-50070'))
    expect(result.status).toBe('WARN')
    expect(result.message).toMatch(/^ports 50071-50090 of 50051-50090 lie in the ephemeral range 32768-60999 and are not reserved \(net\.ipv4\.ip_local_reserved_ports=8080,50051-50070\)/)
    expect(result.fix!.split('\n')[0]).toBe('sysctl -w net.ipv4.ip_local_reserved_ports=8080,50051-50090')
  })

  test('OK when the range is reserved, or lies outside the ephemeral range', () => {
    expect(checkReservedPorts([50051, 50090], sysctls('32768\t60999', '50051-50090'))).toEqual({
      name: 'reserved-ports',
      status: 'OK',
      message: 'ports 50051-50090 are reserved (net.ipv4.ip_local_reserved_ports=50051-50090): no outgoing connection is given one as its source',
    })
    expect(checkReservedPorts([50051, 50090], sysctls('61000\t65535', ''))).toEqual({
      name: 'reserved-ports',
      status: 'OK',
      message: 'ports 50051-50090 lie outside the ephemeral range 61000-65535: no outgoing connection is given one as its source',
    })
  })

  test('qm start warns in one line only while the range is exposed', () => {
    expect(reservedPortsWarning([50051, 50090], sysctls('32768\t60999', ''))).toBe(
      'ports 50051-50090 lie in the ephemeral range 32768-60999 and are not reserved, so another program\'s connection can take one; reserve them: sysctl -w net.ipv4.ip_local_reserved_ports=50051-50090 (qm doctor shows how to keep it)',
    )
    expect(reservedPortsWarning([50051, 50090], sysctls('32768\t60999', '50000-50100'))).toBeUndefined()
  })
})
