// Whether a port is used on this host, asked of the kernel's socket tables rather
// than by dialling it: a dial into 50051–50090 could itself take the port as its
// ephemeral source and connect to itself (see src/net/socket-table.ts).
import {hostname} from 'node:os'
import {describePortHolders} from '../net/port-holders.js'
import {listeningPorts, type TcpSocket} from '../net/socket-table.js'

export function isThisHost(host: string): boolean {
  return host === 'localhost' || host === hostname() || host === '::1' || host.startsWith('127.')
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
