// Whether a port is used on this host, asked of the kernel's socket tables rather
// than by dialling it: a dial into 50051–50090 could itself take the port as its
// ephemeral source and connect to itself (see src/net/socket-table.ts).
import {hostname} from 'node:os'
import {describePortHolders} from '../net/port-holders.js'
import {listeningPorts} from '../net/socket-table.js'

export function isThisHost(host: string): boolean {
  return host === 'localhost' || host === hostname() || host === '::1' || host.startsWith('127.')
}

/** For another host the kernel here knows nothing, so only the registry decides. */
export function localPortUsage(host: string): (port: number) => string | undefined {
  if (!isThisHost(host)) return () => undefined
  let listening: Set<number> | undefined
  return (port) => {
    listening ??= listeningPorts()
    return listening.has(port) ? describePortHolders(port) : undefined
  }
}
