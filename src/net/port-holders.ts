// Who holds a port, from the kernel's tables: the sockets bound to it (socket-table.ts)
// and the processes whose file descriptors point at those sockets' inodes. Used to explain
// a refused or failed start and by qm doctor, so it favours a full answer over speed.
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {isIP} from 'node:net'
import {readSocketTable, type TcpSocket, type TcpState} from './socket-table.js'

export interface PortHolder {
  /** The first process holding the socket; absent when no process owns it or qm cannot see which. */
  pid?: number
  command?: string
  /** Further processes sharing the socket: a forked child inherits its parent's descriptors. */
  otherPids: number[]
  state: TcpState
  socket: TcpSocket
}

/** A port's holders put into words: what holds it, and what the operator can do. */
export interface PortHolding {
  port: number
  holders: PortHolder[]
  /** The holder that matters most: a listener, else a live connection, else a closing one. */
  main: PortHolder
  /** "pid 4242 (node hold.mjs) listens on 127.0.0.1:50051" */
  what: string
  /** "stop pid 4242 (kill 4242)" */
  fix: string
}

/** How long Linux keeps a TIME_WAIT (TCP_TIMEWAIT_LEN), and an orphaned FIN_WAIT2 by default (tcp_fin_timeout). */
export const TIME_WAIT_SECONDS = 60

const COMMAND_MAX_CHARS = 160

export function findPortHolders(port: number): PortHolder[] {
  return findHoldersOfPorts((p) => p === port).get(port) ?? []
}

/** Holders of every port that wants says yes to, from one read of the table and one walk of /proc. */
export function findHoldersOfPorts(wants: (port: number) => boolean, sockets: readonly TcpSocket[] = readSocketTable()): Map<number, PortHolder[]> {
  const mine = sockets.filter((socket) => wants(socket.localPort))
  const owners = processesBySocket(new Set(mine.filter((s) => s.inode !== 0).map((s) => s.inode)))
  const byPort = new Map<number, PortHolder[]>()
  for (const socket of mine) {
    const pids = owners.get(socket.inode) ?? []
    const holder: PortHolder = {state: socket.state, socket, otherPids: pids.slice(1)}
    if (pids.length > 0) {
      holder.pid = pids[0]!
      holder.command = commandLine(pids[0]!)
    }
    const list = byPort.get(socket.localPort) ?? []
    list.push(holder)
    byPort.set(socket.localPort, list)
  }
  return byPort
}

/**
 * Whether the holder keeps the port from a new listener whatever it sets: a listener, or
 * a connection a process still owns. A TIME_WAIT, or a closing connection whose process
 * let go of it (inode 0), blocks only a bind without SO_REUSEADDR or one whose original
 * socket lacked it, and the kernel ends it within a minute.
 */
export function isLiveHolder(holder: PortHolder): boolean {
  return holder.state === 'LISTEN' || (holder.state !== 'TIME_WAIT' && holder.socket.inode !== 0 && holder.socket.remotePort !== 0)
}

/** A socket whose two ends are the same address and port: what a dial into the ephemeral range can make. */
export function isSelfConnected(socket: TcpSocket): boolean {
  return socket.state !== 'LISTEN' && socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress
}

/**
 * The holders put into words, or undefined when nothing holds the port. `reserve` is the
 * command that reserves the port range, given when it is not reserved: it is the lasting
 * fix for a port taken as a connection's source.
 */
export function explainPortHolders(port: number, holders: readonly PortHolder[], options: {reserve?: string} = {}): PortHolding | undefined {
  const rank = (h: PortHolder) => (h.state === 'LISTEN' ? 0 : isLiveHolder(h) ? 1 : 2) * 2 + (h.pid === undefined ? 1 : 0)
  const main = [...holders].sort((a, b) => rank(a) - rank(b))[0]
  if (!main) return undefined
  const {socket} = main
  const local = endpoint(socket.localAddress, socket.localPort)
  const remote = endpoint(socket.remoteAddress, socket.remotePort)
  const reserve = options.reserve ? `; reserve the port range so that no connection is given one of its ports as its source: ${options.reserve}` : ''
  const base = {port, holders: [...holders], main}
  if (main.pid !== undefined) {
    const who = `pid ${main.pid} (${main.command})${main.otherPids.length > 0 ? ` and pid ${main.otherPids.join(', ')}` : ''}`
    const stop = `stop ${main.otherPids.length > 0 ? `pid ${[main.pid, ...main.otherPids].join(', ')}` : `pid ${main.pid}`} (kill ${[main.pid, ...main.otherPids].join(' ')})`
    if (main.state === 'LISTEN') return {...base, what: `${who} listens on ${local}`, fix: stop}
    const selfConnect = isSelfConnected(socket) ? ', a connection to itself' : ''
    return {...base, what: `${who} holds it as the local end of a connection ${local} → ${remote} (${main.state}${selfConnect})`, fix: `${stop}${reserve}`}
  }
  if (main.state === 'TIME_WAIT' || socket.inode === 0) {
    const selfConnect = isSelfConnected(socket) ? ', a connection to itself' : ''
    const what = main.state === 'TIME_WAIT'
      ? `a closed connection ${local} → ${remote} in TIME_WAIT${selfConnect}, which no process owns; the kernel frees it within ${TIME_WAIT_SECONDS} s`
      : `a closing connection ${local} → ${remote} in ${main.state}${selfConnect}, which no process owns any more; the kernel ends it within ${TIME_WAIT_SECONDS} s`
    return {...base, what, fix: `wait up to ${TIME_WAIT_SECONDS} s, then start it again${reserve}`}
  }
  return {
    ...base,
    what: `a ${main.state} socket on ${local} of a process qm cannot see (another user's, or in another PID namespace)`,
    fix: `ss -tanp 'sport = :${port}' as root names its process; stop that process${main.state === 'LISTEN' ? '' : reserve}`,
  }
}

/** One sentence for an error message: who listens on the port, or what else holds it. */
export function describePortHolders(port: number): string {
  return explainPortHolders(port, findPortHolders(port))?.what ?? 'nothing holds it now'
}

export function commandLine(pid: number): string {
  let argv: string[]
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return '?' // the process ended while we looked
  }
  const text = argv.length > 0 ? argv.join(' ') : `[${processName(pid)}]`
  return text.length > COMMAND_MAX_CHARS ? `${text.slice(0, COMMAND_MAX_CHARS - 1)}…` : text
}

/** Pids by socket inode, in ascending pid order. */
function processesBySocket(inodes: ReadonlySet<number>): Map<number, number[]> {
  const owners = new Map<number, number[]>()
  if (inodes.size === 0) return owners
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b)
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue // the process ended, or belongs to another user we cannot look into
    }
    const seen = new Set<number>()
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue // the descriptor closed between readdir and readlink
      }
      const match = /^socket:\[(\d+)\]$/.exec(target)
      if (!match) continue
      const inode = Number(match[1])
      if (!inodes.has(inode) || seen.has(inode)) continue
      seen.add(inode)
      const list = owners.get(inode) ?? []
      list.push(pid)
      owners.set(inode, list)
    }
  }
  return owners
}

function endpoint(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return '?' // the process ended while we looked
  }
}
