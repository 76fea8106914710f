// The kernel's ephemeral port settings: the range connect() picks source ports from
// (net.ipv4.ip_local_port_range, which IPv6 uses too) and the ports it leaves out of that
// range (net.ipv4.ip_local_reserved_ports). A port of qm's range that lies in the first
// and not in the second can be taken by any outgoing connection on the host.
import {readFileSync} from 'node:fs'

export type PortSpan = readonly [number, number]

export interface EphemeralPortSettings {
  /** net.ipv4.ip_local_port_range: where connect() and bind(0) take their ports. */
  ephemeral: PortSpan
  /** net.ipv4.ip_local_reserved_ports, as spans; empty when nothing is reserved. */
  reserved: PortSpan[]
}

export interface PortSysctlFiles {
  range: string
  reserved: string
}

export const PORT_SYSCTL_FILES: PortSysctlFiles = {
  range: '/proc/sys/net/ipv4/ip_local_port_range',
  reserved: '/proc/sys/net/ipv4/ip_local_reserved_ports',
}

export const RESERVED_PORTS_SYSCTL = 'net.ipv4.ip_local_reserved_ports'

/** Throws the file system's error when /proc/sys is missing (not Linux) or hidden. */
export function readEphemeralPortSettings(files: PortSysctlFiles = PORT_SYSCTL_FILES): EphemeralPortSettings {
  const [low, high] = readFileSync(files.range, 'latin1').trim().split(/\s+/).map(Number)
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new Error(`${files.range} does not hold two port numbers`)
  return {ephemeral: [low!, high!], reserved: parsePortList(readFileSync(files.reserved, 'latin1'))}
}

/** The kernel's list format: "8080,50051-50090", empty for none. */
export function parsePortList(text: string): PortSpan[] {
  const spans: PortSpan[] = []
  for (const item of text.trim().split(',')) {
    if (item === '') continue
    const [first, last = first] = item.split('-').map(Number)
    if (!Number.isInteger(first) || !Number.isInteger(last)) throw new Error(`not a port list: ${text.trim()}`)
    spans.push([first!, last!])
  }
  return mergeSpans(spans)
}

export function formatPortList(spans: readonly PortSpan[]): string {
  return spans.map(([first, last]) => (first === last ? String(first) : `${first}-${last}`)).join(',')
}

/** The ports of range that an outgoing connection can be given: in the ephemeral range, not reserved. */
export function exposedPorts(range: PortSpan, settings: EphemeralPortSettings): PortSpan[] {
  const [low, high] = settings.ephemeral
  const inside: PortSpan = [Math.max(range[0], low), Math.min(range[1], high)]
  if (inside[0] > inside[1]) return []
  let left: PortSpan[] = [inside]
  for (const [first, last] of settings.reserved) {
    left = left.flatMap(([a, b]): PortSpan[] => {
      if (last < a || first > b) return [[a, b]]
      const pieces: PortSpan[] = []
      if (first > a) pieces.push([a, first - 1])
      if (last < b) pieces.push([last + 1, b])
      return pieces
    })
  }
  return left
}

/**
 * The value to write so that range is reserved: what is reserved now plus the range.
 * Writing the sysctl replaces the whole list, so a line with the range alone would drop
 * ports another program reserved.
 */
export function reservedPortsValue(range: PortSpan, settings: EphemeralPortSettings): string {
  return formatPortList(mergeSpans([...settings.reserved, range]))
}

export function reserveCommand(range: PortSpan, settings: EphemeralPortSettings): string {
  return `sysctl -w ${RESERVED_PORTS_SYSCTL}=${reservedPortsValue(range, settings)}`
}

/** The reservation command while part of range is exposed; undefined when none is, or on a host without /proc/sys. */
export function reserveCommandIfExposed(range: PortSpan, files: PortSysctlFiles = PORT_SYSCTL_FILES): string | undefined {
  let settings: EphemeralPortSettings
  try {
    settings = readEphemeralPortSettings(files)
  } catch {
    return undefined // not Linux: there is no such setting to advise
  }
  return exposedPorts(range, settings).length > 0 ? reserveCommand(range, settings) : undefined
}

export function formatSpan([first, last]: PortSpan): string {
  return first === last ? String(first) : `${first}-${last}`
}

function mergeSpans(spans: readonly PortSpan[]): PortSpan[] {
  const sorted = [...spans].sort((a, b) => a[0] - b[0])
  const merged: [number, number][] = []
  for (const [first, last] of sorted) {
    const previous = merged.at(-1)
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last)
    else merged.push([first, last])
  }
  return merged
}

/** The one line `qm start` prints when it started the daemon and the range is exposed; undefined when all is well. */
export function reservedPortsWarning(range: PortSpan, files: PortSysctlFiles = PORT_SYSCTL_FILES): string | undefined {
  let settings: EphemeralPortSettings
  try {
    settings = readEphemeralPortSettings(files)
  } catch {
    return undefined // not Linux: qm doctor says so; a start need not
  }
  const exposed = exposedPorts(range, settings)
  if (exposed.length === 0) return undefined
  return `ports ${formatPortList(exposed)} lie in the ephemeral range ${formatSpan(settings.ephemeral)} and are not reserved, so another program's connection can take one; reserve them: ${reserveCommand(range, settings)} (qm doctor shows how to keep it)`
}
