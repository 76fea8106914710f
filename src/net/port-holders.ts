// Who holds a port, from the kernel's tables: the sockets bound to it (/proc/net/tcp,
// tcp6) and the processes whose file descriptors point at those sockets. Used only to
// explain a refusal, so it favours a full answer over speed.
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'

export interface PortHolder {
  pid?: number
  command?: string
  state: string
}

const STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
}

interface SocketEntry {
  localPort: number
  state: string
  inode: string
}

function readEntries(): SocketEntry[] {
  const entries: SocketEntry[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue // no IPv6 on this host, or not Linux: nothing to report from this table
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10) continue
      const local = fields[1]!
      entries.push({localPort: Number.parseInt(local.slice(local.indexOf(':') + 1), 16), state: STATES[fields[3]!] ?? fields[3]!, inode: fields[9]!})
    }
  }
  return entries
}

function processesBySocket(inodes: Set<string>): Map<string, {pid: number; command: string}> {
  const owners = new Map<string, {pid: number; command: string}>()
  if (inodes.size === 0) return owners
  for (const pidText of readdirSync('/proc')) {
    if (!/^\d+$/.test(pidText)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pidText}/fd`)
    } catch {
      continue // the process ended, or belongs to another user we cannot look into
    }
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pidText}/fd/${fd}`)
      } catch {
        continue // the descriptor closed between readdir and readlink
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
      if (inode && inodes.has(inode) && !owners.has(inode)) owners.set(inode, {pid: Number(pidText), command: commandLine(Number(pidText))})
    }
  }
  return owners
}

export function commandLine(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
    return argv.join(' ')
  } catch {
    return '?'
  }
}

export function findPortHolders(port: number): PortHolder[] {
  const sockets = readEntries().filter((entry) => entry.localPort === port)
  const owners = processesBySocket(new Set(sockets.filter((s) => s.inode !== '0').map((s) => s.inode)))
  const holders: PortHolder[] = []
  for (const socket of sockets) {
    const owner = owners.get(socket.inode)
    holders.push(owner ? {pid: owner.pid, command: owner.command, state: socket.state} : {state: socket.state})
  }
  return holders
}

/** One sentence for an error message: who listens on the port, or what else holds it. */
export function describePortHolders(port: number): string {
  const holders = findPortHolders(port)
  if (holders.length === 0) return 'nothing holds it now'
  const listening = holders.find((holder) => holder.state === 'LISTEN' && holder.pid !== undefined) ?? holders.find((h) => h.state === 'LISTEN')
  const holder = listening ?? holders[0]!
  if (holder.pid !== undefined) return `${holder.state === 'LISTEN' ? 'listening' : holder.state} by pid ${holder.pid} (${holder.command})`
  if (holder.state === 'TIME_WAIT') return 'a closed connection in TIME_WAIT (the kernel frees it within 60s)'
  return `a ${holder.state} socket of a process qm cannot see (another user's)`
}
