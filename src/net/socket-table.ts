// The kernel's TCP socket table as /proc/net/tcp and /proc/net/tcp6 show it: which ports
// have a listener, what state every socket is in, and its inode, which names the processes
// holding it (port-holders.ts). Synchronous and dependency-free, so that the registry's port
// allocation, the health probe's dial guard and qm doctor can all ask it.
import {accessSync, closeSync, constants, openSync, readSync} from 'node:fs'
import {endianness} from 'node:os'
import {QmError} from '../errors.js'

export type TcpState =
  | 'ESTABLISHED'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'LISTEN'
  | 'CLOSING'
  | 'NEW_SYN_RECV'

// include/net/tcp_states.h, in the order of the hex codes 01..0C.
const STATES: readonly TcpState[] = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
]

const LISTEN_HEX = '0A'
const SYN_RECV_HEX = '03'
const IPV4_ANY_HEX = '0'.repeat(8)
const IPV6_ANY_HEX = '0'.repeat(32)
const LITTLE_ENDIAN = endianness() === 'LE'

export interface TcpSocket {
  family: 4 | 6
  localAddress: string
  localPort: number
  remoteAddress: string
  remotePort: number
  state: TcpState
  /**
   * The socket's inode, which /proc/PID/fd/N links name as socket:[INODE]: how a socket is
   * traced to the processes holding it. 0 for a TIME_WAIT, or a closing connection whose
   * process let go of it: no process owns those.
   */
  inode: number
}

export const SOCKET_TABLE_FILES: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6']

export class SocketTableUnavailableError extends QmError {
  constructor(detail: string) {
    super(
      `cannot read the kernel socket table: ${detail}`,
      1,
      'SOCKET_TABLE',
      'qm reads /proc/net/tcp and /proc/net/tcp6, which only Linux provides',
    )
  }
}

/** Every TCP socket of this network namespace, IPv4 and IPv6. */
export function readSocketTable(files: readonly string[] = SOCKET_TABLE_FILES): TcpSocket[] {
  return parseTables(files, false)
}

/** The listening sockets only: what a dial guard needs, without decoding every connection. */
export function readListeners(files: readonly string[] = SOCKET_TABLE_FILES): TcpSocket[] {
  return parseTables(files, true)
}

/** Ports with a listening socket on any address. Skips address decoding: the daemon calls it often. */
export function listeningPorts(files: readonly string[] = SOCKET_TABLE_FILES): Set<number> {
  const ports = new Set<number>()
  for (const text of readTables(files, true)) {
    const lines = text.split('\n')
    for (let i = 1; i < lines.length; i++) {
      const fields = lines[i]!.trim().split(/\s+/)
      if (fields[3] !== LISTEN_HEX) continue
      const local = fields[1]
      if (!local) continue
      ports.add(Number.parseInt(local.slice(local.indexOf(':') + 1), 16))
    }
  }
  return ports
}

export function isListening(port: number, files: readonly string[] = SOCKET_TABLE_FILES): boolean {
  return listeningPorts(files).has(port)
}

/**
 * Whether a connection to address:port would reach a listener: one bound to that exact
 * address, or to the wildcard of its family. An IPv6 wildcard also takes IPv4 unless the
 * socket is IPV6_V6ONLY, which the table does not show; Linux's default (bindv6only=0) is
 * dual-stack, and that is what gRPC's "[::]:port" relies on.
 */
export function isListeningOn(address: string, port: number, sockets: readonly TcpSocket[] = readListeners()): boolean {
  const want = address.toLowerCase()
  const v4 = want.includes('.') && !want.includes(':')
  for (const s of sockets) {
    if (s.state !== 'LISTEN' || s.localPort !== port) continue
    if (s.localAddress === want || s.localAddress === `::ffff:${want}`) return true
    if (s.localAddress === '::') return true
    if (v4 && s.localAddress === '0.0.0.0') return true
  }
  return false
}

/** False where /proc/net is missing (not Linux, or a sandbox that hides it). */
export function canReadSocketTable(files: readonly string[] = SOCKET_TABLE_FILES): boolean {
  return files.some((file) => {
    try {
      accessSync(file, constants.R_OK)
      return true
    } catch {
      return false // missing or unreadable: the question this function answers
    }
  })
}

function parseTables(files: readonly string[], onlyListen: boolean): TcpSocket[] {
  const sockets: TcpSocket[] = []
  for (const text of readTables(files, onlyListen)) {
    const lines = text.split('\n')
    for (let i = 1; i < lines.length; i++) {
      const fields = lines[i]!.trim().split(/\s+/)
      if (fields.length < 4 || (onlyListen && fields[3] !== LISTEN_HEX)) continue
      const local = splitEndpoint(fields[1]!)
      const remote = splitEndpoint(fields[2]!)
      const state = STATES[Number.parseInt(fields[3]!, 16) - 1]
      if (!local || !remote || !state) continue
      sockets.push({
        family: local.hex.length === 8 ? 4 : 6,
        localAddress: decodeAddress(local.hex),
        localPort: local.port,
        remoteAddress: decodeAddress(remote.hex),
        remotePort: remote.port,
        state,
        inode: fields[9] === undefined ? 0 : Number(fields[9]),
      })
    }
  }
  return sockets
}

function readTables(files: readonly string[], listenersOnly = false): string[] {
  const texts: string[] = []
  const missing: string[] = []
  for (const file of files) {
    try {
      texts.push(readTable(file, listenersOnly))
    } catch (err) {
      // A kernel booted with ipv6.disable=1 has no tcp6; one readable file is enough.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'EACCES') throw err
      missing.push(`${file}: ${code}`)
    }
  }
  if (texts.length === 0) throw new SocketTableUnavailableError(missing.join(', '))
  return texts
}

const readBuffer = Buffer.alloc(64 * 1024)

/**
 * The kernel builds these files by walking its hash tables, and that is what a read costs:
 * on this project's 24 GB test VM (262 144 established-table buckets) a full read of both
 * files took 8.4 ms, listeners only 4.6 ms. Listening sockets come first (tcp_seq_start
 * walks the listening table, then the established one), so a reader that wants only
 * listeners stops at the first record in another state. Kernels before 4.4 printed a
 * listener's pending SYN_RECV requests right after it, so those do not end the section.
 */
function readTable(file: string, listenersOnly: boolean): string {
  const fd = openSync(file, 'r')
  try {
    let text = ''
    let scanned = 0
    for (;;) {
      const n = readSync(fd, readBuffer, 0, readBuffer.length, null)
      if (n === 0) return text
      text += readBuffer.toString('latin1', 0, n)
      if (!listenersOnly) continue
      const lines = text.split('\n')
      // lines[0] is the header and the last element may be a partial record.
      for (let i = Math.max(1, scanned); i < lines.length - 1; i++) {
        const state = lines[i]!.trim().split(/\s+/)[3]
        if (state !== undefined && state !== LISTEN_HEX && state !== SYN_RECV_HEX) return lines.slice(0, i).join('\n')
      }
      scanned = Math.max(1, lines.length - 1)
    }
  } finally {
    closeSync(fd)
  }
}

function splitEndpoint(field: string): {hex: string; port: number} | undefined {
  const colon = field.indexOf(':')
  if (colon < 0) return undefined
  return {hex: field.slice(0, colon), port: Number.parseInt(field.slice(colon + 1), 16)}
}

// The kernel prints each 32-bit word of the address with %08X in host byte order, so on a
// little-endian machine 127.0.0.1 reads 0100007F.
function decodeAddress(hex: string): string {
  // A listener's own address is nearly always a wildcard, and its remote end always is. The
  // dial guard reads the listeners every 10 to 20 ms while a service starts, and decoding
  // these byte by byte was most of a read's JavaScript: with 40 guide services listening,
  // 0.40 ms of CPU a read against 0.14 ms, under the daemon's flags (which leave it interpreted).
  if (hex === IPV4_ANY_HEX) return '0.0.0.0'
  if (hex === IPV6_ANY_HEX) return '::'
  const bytes: number[] = []
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8)
    const wordBytes = [0, 2, 4, 6].map((i) => Number.parseInt(word.slice(i, i + 2), 16))
    bytes.push(...(LITTLE_ENDIAN ? wordBytes.reverse() : wordBytes))
  }
  if (bytes.length === 4) return bytes.join('.')
  return formatIpv6(bytes)
}

function formatIpv6(bytes: number[]): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // ::ffff:a.b.c.d, the form Node and the kernel print for IPv4-mapped addresses.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12).join('.')}`
  }
  // RFC 5952: compress the longest run of two or more zero groups.
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hexGroups = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hexGroups.join(':')
  const head = hexGroups.slice(0, bestStart).join(':')
  const tail = hexGroups.slice(bestStart + bestLength).join(':')
  return `${head}::${tail}`
}
