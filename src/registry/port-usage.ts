// Whether a port is used on this host, asked of the kernel's socket tables rather
// than by dialling it: a dial into 50051–50090 could itself take the port as its
// ephemeral source and connect to itself (see src/net/socket-table.ts).
import {isIP} from 'node:net'
import {hostname, networkInterfaces} from 'node:os'
import {describePortHolders} from '../net/port-holders.js'
import {listeningPorts, type TcpSocket} from '../net/socket-table.js'

/**
 * A fleet's hosts name themselves by address (registry.host: 10.0.0.7) as often as by name:
 * an address of one of this machine's interfaces is this host too, so its ports are checked
 * against the kernel here. Without that, a port another program held was handed out, and
 * every start of that host failed on it (seen in the live fleet test).
 */
export function isThisHost(host: string, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): boolean {
  if (host === 'localhost' || host === hostname() || host === '::1' || host.startsWith('127.')) return true
  if (isIP(host) === 0) return false
  const address = host.toLowerCase()
  return Object.values(interfaces).some((list) => (list ?? []).some((nic) => nic.address.toLowerCase() === address))
}

/**
 * For another host the kernel here knows nothing, so only the registry decides. `sockets`:
 * a table already read (a start reads it once for all its services: each read costs the
 * kernel a walk of its hash tables, several ms on a large machine).
 */
export function localPortUsage(host: string, sockets?: readonly TcpSocket[]): (port: number) => string | undefined {
  if (!isThisHost(host)) return () => undefined
  let listening: Set<number> | undefined
  return (port) => {
    listening ??= sockets === undefined ? listeningPorts() : new Set(sockets.filter((s) => s.state === 'LISTEN').map((s) => s.localPort))
    return listening.has(port) ? describePortHolders(port) : undefined
  }
}
