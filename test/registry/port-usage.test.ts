// Which registry hosts are this machine, so that allocation asks the kernel here which ports
// are held: names, loopback, and (for a fleet whose hosts name themselves by address) the
// addresses of this machine's interfaces.
import {networkInterfaces as osInterfaces, type networkInterfaces} from 'node:os'
import {describe, expect, it} from 'vitest'
import {isThisHost, localPortUsage} from '../../src/registry/port-usage.js'
import {listenOn} from '../helpers/listen.js'

const interfaces = {
  lo: [{address: '127.0.0.1', family: 'IPv4', internal: true}],
  eth0: [
    {address: '10.213.0.2', family: 'IPv4', internal: false},
    {address: 'fe80::1', family: 'IPv6', internal: false},
  ],
} as unknown as ReturnType<typeof networkInterfaces>

describe('isThisHost', () => {
  it('knows an address of one of its interfaces as this host, and no other address', () => {
    expect(isThisHost('10.213.0.2', interfaces)).toBe(true)
    expect(isThisHost('FE80::1', interfaces)).toBe(true)
    expect(isThisHost('10.213.0.3', interfaces)).toBe(false)
    expect(isThisHost('worker-2', interfaces)).toBe(false)
    expect(isThisHost('localhost', interfaces)).toBe(true)
  })

  // An address of a real interface here, not loopback: one qm did not know as its own before.
  const address = Object.values(osInterfaces()).flatMap((list) => list ?? []).find((nic) => nic.family === 'IPv4' && !nic.internal)?.address

  it.skipIf(address === undefined)('has allocation for an address of this machine skip a port another program listens on', async () => {
    const server = await listenOn(0, '0.0.0.0')
    const port = (server.address() as {port: number}).port
    try {
      expect(localPortUsage(address!)(port)).toMatch(new RegExp(`listens on 0\\.0\\.0\\.0:${port}`))
      expect(localPortUsage('10.213.255.3')(port)).toBeUndefined()
    } finally {
      server.close()
    }
  })
})
