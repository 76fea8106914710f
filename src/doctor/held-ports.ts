// Who holds the ports qm hands out, compared with what qm itself runs: ports of the range
// held by processes qm does not manage (or taken by qm's own processes as a connection's
// source), and registry rows whose port someone other than that service holds.
import {explainPortHolders, isLiveHolder, type PortHolder} from '../net/port-holders.js'
import {formatSpan, type PortSpan} from '../net/port-sysctls.js'
import type {Endpoint} from '../registry/store.js'
import {processGroupOf} from '../supervisor/proc.js'
import {check, type DoctorCheck} from './report.js'

/** A service instance the daemon's records show alive (same pid and start time). */
export interface ManagedService {
  name: string
  pid: number
  port: number | null
}

export interface HeldPortsFacts {
  range: PortSpan
  /** Holders of the range's ports and of every registry row's port, by port. */
  holders: ReadonlyMap<number, readonly PortHolder[]>
  managed: readonly ManagedService[]
  daemonPid?: number
  /** Ports a service of the manifest needs, with why: "the fixed port of ocr", "registered to ocr". */
  needed: ReadonlyMap<number, string>
  /** The reservation command, when the range is not reserved. */
  reserve?: string
}

type Owner = {kind: 'service'; service: ManagedService} | {kind: 'daemon'} | undefined

/** Which of qm's processes holds the socket: a service (any process of its group) or the daemon. */
function ownerOf(holder: PortHolder, facts: HeldPortsFacts): Owner {
  if (holder.pid === undefined) return undefined
  if (holder.pid === facts.daemonPid) return {kind: 'daemon'}
  const group = processGroupOf(holder.pid)
  // Each service runs in a process group of its own, led by the pid qm recorded.
  const service = facts.managed.find((s) => s.pid === holder.pid || s.pid === group)
  return service ? {kind: 'service', service} : undefined
}

export function checkForeignPorts(facts: HeldPortsFacts): DoctorCheck {
  const problems: string[] = []
  const fixes: string[] = []
  let failed = false
  let ownUse = 0
  for (let port = facts.range[0]; port <= facts.range[1]; port++) {
    const live = (facts.holders.get(port) ?? []).filter(isLiveHolder)
    if (live.length === 0) continue
    const foreign: PortHolder[] = []
    const qmSource: PortHolder[] = []
    for (const holder of live) {
      const owner = ownerOf(holder, facts)
      if (owner === undefined) foreign.push(holder)
      else if (owner.kind === 'service' && owner.service.port === port) ownUse++
      else qmSource.push(holder)
    }
    const need = facts.needed.get(port)
    const foreignHolding = explainPortHolders(port, foreign, facts.reserve ? {reserve: facts.reserve} : {})
    if (foreignHolding) {
      if (need) failed = true
      problems.push(`port ${port}${need ? ` (${need})` : ''}: ${foreignHolding.what}`)
      // Another team's process on a port no service here needs is not ours to stop: qm's
      // allocation skips a held port anyway.
      const connection = foreign.some((holder) => holder.state !== 'LISTEN') && facts.reserve ? `; reserve the port range so that no connection is given one of its ports: ${facts.reserve}` : ''
      fixes.push(need ? foreignHolding.fix : `port ${port}: no service of this manifest needs it, and qm skips a held port when it gives out ports; to keep qm away from it for good, narrow port_range${connection}`)
      continue
    }
    const ownHolding = explainPortHolders(port, qmSource)
    if (ownHolding) {
      problems.push(`port ${port}${need ? ` (${need})` : ''}, taken by qm's own process as a connection's source: ${ownHolding.what}`)
      fixes.push(facts.reserve ? `reserve the port range: ${facts.reserve}` : 'it frees the port when that connection closes')
    }
  }
  const range = formatSpan(facts.range)
  if (problems.length === 0) {
    return check('foreign-ports', 'OK', `no process outside qm holds a port of ${range}${ownUse > 0 ? ` (${ownUse} socket${ownUse === 1 ? '' : 's'} of qm's services on their own ports)` : ''}`)
  }
  return check('foreign-ports', failed ? 'FAIL' : 'WARN', problems.join('; '), unique(fixes).join('\n'))
}

export function checkRegistryPorts(facts: HeldPortsFacts, rows: readonly Endpoint[] | undefined, host: string, manifestNames: ReadonlySet<string>, thisHost: boolean): DoctorCheck {
  if (rows === undefined) return check('registry-ports', 'WARN', 'not compared: the registry could not be read (see the registry check)', 'fix the registry first')
  if (!thisHost) return check('registry-ports', 'OK', `registry host ${host} is not this host: the kernel here cannot say who holds its ports`)
  if (rows.length === 0) return check('registry-ports', 'OK', `no registry rows for host ${host}`)
  const problems: string[] = []
  const fixes: string[] = []
  let failed = false
  let own = 0
  for (const row of rows) {
    const live = (facts.holders.get(row.port) ?? []).filter(isLiveHolder)
    const others = live.filter((holder) => {
      const owner = ownerOf(holder, facts)
      return !(owner?.kind === 'service' && owner.service.name === row.name)
    })
    if (live.length > 0 && others.length === 0) own++
    const holding = explainPortHolders(row.port, others, facts.reserve ? {reserve: facts.reserve} : {})
    if (!holding) continue
    const inManifest = manifestNames.has(row.name)
    if (inManifest) failed = true
    const record = facts.managed.find((s) => s.name === row.name)
    const expected = record ? `not ${row.name}'s recorded pid ${record.pid}` : `and qm runs no ${row.name}`
    problems.push(`${row.name} (port ${row.port}): ${holding.what}, ${expected}${inManifest ? '' : ` (${row.name} is not in this manifest)`}`)
    fixes.push(inManifest ? `${holding.fix}; or run "qm unregister ${row.name}" so that it takes another port` : `${holding.fix}, unless that process is ${row.name} run outside qm`)
  }
  const summary = `${rows.length} registry row${rows.length === 1 ? '' : 's'} for host ${host}: ${own} held by their own service, ${rows.length - own - problems.length} free`
  if (problems.length === 0) return check('registry-ports', 'OK', summary)
  return check('registry-ports', failed ? 'FAIL' : 'WARN', problems.join('; '), unique(fixes).join('\n'))
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)]
}
