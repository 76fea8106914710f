// The kernel's ephemeral-port settings: its list format, which ports of a range an outgoing
// connection can be given, and a reservation that keeps what others reserved.
import {describe, expect, test} from 'vitest'
import {exposedPorts, formatPortList, parsePortList, reserveCommand} from '../../src/net/port-sysctls.js'

const ephemeral = [32768, 60999] as const

describe('ephemeral port settings', () => {
  test('parses and prints the kernel list format, merging neighbours', () => {
    expect(parsePortList('\n')).toEqual([])
    expect(parsePortList('8080,50051-50090,50091\n')).toEqual([[8080, 8080], [50051, 50091]])
    expect(formatPortList(parsePortList('9000,8080-8081'))).toBe('8080-8081,9000')
    expect(() => parsePortList('50051-x')).toThrow('not a port list: 50051-x')
  })

  test('a range is exposed where it lies in the ephemeral range and is not reserved', () => {
    expect(exposedPorts([50051, 50090], {ephemeral, reserved: []})).toEqual([[50051, 50090]])
    expect(exposedPorts([50051, 50090], {ephemeral, reserved: [[50051, 50090]]})).toEqual([])
    expect(exposedPorts([50051, 50090], {ephemeral, reserved: [[50060, 50069]]})).toEqual([[50051, 50059], [50070, 50090]])
    expect(exposedPorts([50051, 50090], {ephemeral: [32768, 50060], reserved: []})).toEqual([[50051, 50060]])
    expect(exposedPorts([50051, 50090], {ephemeral: [61000, 65535], reserved: []})).toEqual([])
  })

  test('the reservation command keeps what is reserved already, since writing the list replaces it', () => {
    expect(reserveCommand([50051, 50090], {ephemeral, reserved: []})).toBe('sysctl -w net.ipv4.ip_local_reserved_ports=50051-50090')
    expect(reserveCommand([50051, 50090], {ephemeral, reserved: [[8080, 8080], [50040, 50060]]})).toBe('sysctl -w net.ipv4.ip_local_reserved_ports=8080,50040-50090')
  })
})
