// Who is still talking to a service: the established connections to its port, less the
// ones this process (the daemon, whose health probe keeps a channel) opened itself. A
// drain ends early when none is left. On loopback the kernel lists both ends of a
// connection, so the client end is found by swapping the addresses, and its inode says
// whether this process holds it.
import {readdirSync, readlinkSync} from 'node:fs'
import {readSocketTable, type TcpSocket} from './socket-table.js'

/** Inodes of the sockets this process holds, from its open file descriptors. */
function ownSocketInodes(): Set<number> {
  const inodes = new Set<number>()
  let fds: string[]
  try {
    fds = readdirSync('/proc/self/fd')
  } catch {
    return inodes
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (match) inodes.add(Number(match[1]))
    } catch {
      // closed between the listing and the read
    }
  }
  return inodes
}

// An IPv4 client of a listener on [::] shows as ::ffff:a.b.c.d on the server's end.
const endKey = (address: string, port: number) => `${address.replace(/^::ffff:/, '')}:${port}`

/** Established connections to `port` whose client is not this process. */
export function foreignClientConnections(port: number, sockets: readonly TcpSocket[] = readSocketTable()): TcpSocket[] {
  const served = sockets.filter((socket) => socket.state === 'ESTABLISHED' && socket.localPort === port && socket.remotePort !== 0)
  if (served.length === 0) return []
  const own = ownSocketInodes()
  const connection = (from: string, to: string) => `${from}>${to}`
  const clientEnds = new Map(
    sockets.filter((socket) => socket.remotePort === port).map((socket) => [connection(endKey(socket.localAddress, socket.localPort), endKey(socket.remoteAddress, socket.remotePort)), socket]),
  )
  return served.filter((socket) => {
    const client = clientEnds.get(connection(endKey(socket.remoteAddress, socket.remotePort), endKey(socket.localAddress, socket.localPort)))
    return !(client && own.has(client.inode))
  })
}

/**
 * A drain's end: resolves once no foreign client has held a connection to `port` for
 * quietMs in a row (a client that looked the row up just before it went inactive is
 * still connecting: the quiet time lets it show), or when `deadline` (performance.now())
 * has come, or `stop` aborts. Polls the socket table every pollMs.
 */
export async function untilNoClients(port: number, options: {deadline: number; quietMs: number; pollMs: number; stop?: AbortSignal}): Promise<void> {
  let busyAt = performance.now()
  for (;;) {
    const now = performance.now()
    if (now >= options.deadline || options.stop?.aborted) return
    // A table that cannot be read says nothing: the drain then runs to its deadline.
    if (clientsOrUnknown(port)) busyAt = now
    else if (now - busyAt >= options.quietMs) return
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(options.pollMs, options.deadline - now))))
  }
}

function clientsOrUnknown(port: number): boolean {
  try {
    return foreignClientConnections(port).length > 0
  } catch {
    return true
  }
}
