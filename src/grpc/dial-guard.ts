// Where a probe may dial, and whether it may dial at all. Ports 50051-50090 lie inside
// Linux's ephemeral range (32768-60999): a connect() to a port of this host that nobody
// listens on can be given that same port as its source, and the socket then connects to
// itself by TCP simultaneous open. The TIME_WAIT it leaves (or the socket itself, while
// open) holds the port, and the service that was about to bind it fails with EADDRINUSE.
// A poller that dials during start-up causes this; the peers lost 3 to 5 of 40 services
// to it. Rather than make it unlikely (source-port ranges, SO_REUSEADDR on the service
// side, which qm does not control) the guard makes it impossible for qm's own probes: on
// this host it dials only a port the kernel's socket table shows in LISTEN. A self-connect
// needs the destination port to be free of listeners, so a dial to a listening port can
// never become one. The one window left is a listener that closes between the table read
// and the channel's connect() a few event-loop ticks later, and then the kernel would still
// have to pick that exact port out of some 28 000.
import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {networkInterfaces} from 'node:os'
import {SharedRead} from '../net/listener-snapshots.js'
import {canReadSocketTable, isListeningOn, readListeners, type TcpSocket} from '../net/socket-table.js'

export type DialDecision =
  | {dial: true; address: string; local: boolean}
  | {dial: false; reason: string}

let tableReadable: boolean | undefined
const listenerReads = new SharedRead(() => readListeners())

/**
 * Resolves the host to one address (a channel is always given an IP literal, so it cannot
 * pick another address of a name on its own, e.g. ::1 for "localhost") and, for an
 * address of this host, checks the socket table for a listener on the port.
 * `negativeMaxAgeMs` lets pollers share a recent read, but only to say "nothing listens".
 */
export async function planDial(host: string, port: number, negativeMaxAgeMs = 0): Promise<DialDecision> {
  let addresses: string[]
  try {
    addresses = await resolve(host)
  } catch (err) {
    return {dial: false, reason: `cannot resolve ${host}: ${(err as Error).message}`}
  }
  if (addresses.length === 0) return {dial: false, reason: `cannot resolve ${host}: no addresses`}
  const local = addresses.filter(isLocalAddress)
  if (local.length === 0) return {dial: true, address: addresses[0]!, local: false}
  if (!socketTableReadable()) return {dial: true, address: local[0]!, local: true}
  const address = await listeningAddress(local, port, negativeMaxAgeMs)
  if (address) return {dial: true, address, local: true}
  return {
    dial: false,
    reason: `nothing is listening on ${formatHostPort(host, port)} (the kernel's socket table shows no listener; not dialled)`,
  }
}

/** Re-checks, just before a kept channel is used, that its address still has a listener. */
export async function stillListening(address: string, port: number, negativeMaxAgeMs = 0): Promise<boolean> {
  if (!socketTableReadable()) return true
  return (await listeningAddress([address], port, negativeMaxAgeMs)) !== undefined
}

export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * The grpc-js target for an IP literal: `ipv4:` and `ipv6:` take grpc-js's IP resolver.
 * A bare host:port takes its DNS resolver, which makes a c-ares channel for every gRPC
 * channel, reading resolv.conf, nsswitch.conf and the rest each time (40 of each for a
 * start of 40 services), only to find that the host is already an address.
 */
export function channelTarget(address: string, port: number): string {
  const family = isIP(address)
  return family === 0 ? formatHostPort(address, port) : `ipv${family}:${formatHostPort(address, port)}`
}

export function isLocalAddress(address: string): boolean {
  const a = address.toLowerCase()
  if (a.startsWith('127.') || a.startsWith('::ffff:127.')) return true
  if (a === '::1' || a === '0.0.0.0' || a === '::') return true
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) {
      if (nic.address.toLowerCase() === a) return true
    }
  }
  return false
}

async function resolve(host: string): Promise<string[]> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (isIP(bare)) return [bare]
  // The resolver's own order can put ::1 before 127.0.0.1; the guard tries both anyway.
  if (bare.toLowerCase() === 'localhost') return ['127.0.0.1', '::1']
  const found = await lookup(bare, {all: true})
  return found.map((entry) => entry.address)
}

// A read costs milliseconds on a host with large kernel hash tables (see socket-table.ts),
// so many waiters polling one start-up share reads. A recent read may only say no, since a
// listener that closed since it was taken must not let a dial through; a yes needs a read
// made after it was asked for, and every dial asked for in one turn of the event loop
// shares that read (40 services starting at once made 41 reads a start, one per dial).
async function listeningAddress(addresses: readonly string[], port: number, negativeMaxAgeMs: number): Promise<string | undefined> {
  const askedAtMs = performance.now()
  const find = (sockets: readonly TcpSocket[]) => addresses.find((address) => isListeningOn(address, port, sockets))
  const recent = negativeMaxAgeMs > 0 ? listenerReads.readSince(askedAtMs - negativeMaxAgeMs) : undefined
  if (recent && find(recent) === undefined) return undefined
  return find(await listenerReads.since(askedAtMs))
}

function socketTableReadable(): boolean {
  tableReadable ??= canReadSocketTable()
  return tableReadable
}
