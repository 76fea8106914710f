// How service states read on a terminal: the status table, one line per state change,
// and the failure report with a service's last log lines.
import type {ChalkInstance} from 'chalk'
import ms from 'ms'
import type {ExpiringCertificate} from '../certs/expiry.js'
import type {RegistryBacklog, UnwrittenChanges} from '../supervisor/registry-writes.js'
import type {AttemptResult, InstanceStatus} from '../supervisor/states.js'
import type {ServiceState} from '../supervisor/states.js'
import {renderTable} from './table.js'
import {cut, visibleLength} from './text-width.js'

export function stateColour(c: ChalkInstance, state: ServiceState): string {
  switch (state) {
    case 'running':
      return c.green(state)
    case 'starting':
    case 'draining':
    case 'stopping':
    case 'backoff':
      return c.yellow(state)
    case 'unhealthy':
    case 'exited':
    case 'fatal':
      return c.red(state)
    default:
      return c.dim(state)
  }
}

type Column = {head: string; cell: (row: InstanceStatus, compact: boolean) => string}

/**
 * The status table. With a width (a terminal's), it fits: first the compact forms (whole
 * milliseconds, RST for RESTARTS), then columns go, least useful first, until every line
 * fits. Without one (a pipe, a file) it is the full table. A service that failed gets a
 * line under its row that says why.
 */
export function renderStatusTable(c: ChalkInstance, rows: readonly InstanceStatus[], width?: number): string {
  const columns: Column[] = [
    {head: 'NAME', cell: (row) => row.name},
    {head: 'STATE', cell: (row) => stateColour(c, row.state) + (row.drainLeftMs === null ? '' : ` ${Math.ceil(row.drainLeftMs / 1000)}s`)},
    {head: 'PID', cell: (row) => (row.pid === null ? '-' : String(row.pid))},
    {head: 'PORT', cell: (row) => (row.port === null ? '-' : String(row.port))},
    {head: 'HEALTH', cell: (row, compact) => health(c, row, compact)},
    {head: 'VERSION', cell: (row) => version(c, row)},
    {head: 'UPTIME', cell: (row) => (row.uptimeMs === null ? '-' : ms(row.uptimeMs))},
    {head: 'RESTARTS', cell: (row) => String(row.restarts)},
    {head: 'CPU', cell: (row) => (row.cpuPercent === null ? '-' : `${row.cpuPercent.toFixed(1)}%`)},
    {head: 'MEM', cell: (row) => (row.memoryBytes === null ? '-' : `${(row.memoryBytes / 1024 / 1024).toFixed(row.memoryBytes < 100 * 1024 * 1024 ? 1 : 0)}M`)},
  ]
  const render = (shown: Column[], compact: boolean) =>
    renderTable(
      shown.map((column) => (compact && column.head === 'RESTARTS' ? 'RST' : column.head)),
      rows.map((row) => shown.map((column) => column.cell(row, compact))),
    )
  let table = render(columns, false)
  if (width !== undefined) {
    const fits = (text: string) => text.split('\n').every((line) => visibleLength(line) <= width)
    // Least useful first: a person can ask qm status NAME --json for the rest.
    // A version that differs from the expected one is worth more than uptime or memory.
    const mismatch = rows.some((row) => row.version && row.expectedVersion && row.version !== row.expectedVersion)
    const dropOrder = mismatch ? ['CPU', 'UPTIME', 'MEM', 'PID', 'RESTARTS', 'VERSION'] : ['CPU', 'VERSION', 'UPTIME', 'MEM', 'PID', 'RESTARTS']
    let shown = columns
    table = render(shown, true)
    for (const head of dropOrder) {
      if (fits(table)) break
      shown = shown.filter((column) => column.head !== head)
      table = render(shown, true)
    }
  }
  const lines = table.split('\n')
  const out = [lines[0]!]
  rows.forEach((row, i) => {
    out.push(lines[i + 1]!)
    const why = failureLine(row)
    if (why) out.push(c.dim(`  ↳ ${width === undefined ? why : cut(why, Math.max(20, width - 4))}`))
  })
  return out.join('\n')
}

/** Why a service is not running, for the line under its row, as supervisorctl shows it. */
function failureLine(row: InstanceStatus): string | undefined {
  if (!['fatal', 'backoff', 'exited'].includes(row.state) || !row.detail) return undefined
  return `${row.detail}${row.lastLogLine ? `; last line: ${row.lastLogLine}` : ''}`
}

function health(c: ChalkInstance, row: InstanceStatus, compact: boolean): string {
  if (!row.health) return '-'
  const text = `${row.health.status} ${compact ? Math.round(row.health.latencyMs) : row.health.latencyMs.toFixed(1)}ms`
  return row.health.status === 'SERVING' ? text : c.red(text)
}

function version(c: ChalkInstance, row: InstanceStatus): string {
  if (!row.version) return '-'
  if (row.expectedVersion && row.version !== row.expectedVersion) return c.yellow(`${row.version} (expected ${row.expectedVersion})`)
  return row.version
}

/** One service's start as one line: where it runs, and how long it took to answer. */
export function startedLine(result: AttemptResult): string {
  const took = result.healthyAfterMs === undefined ? 'already running' : `healthy in ${result.healthyAfterMs} ms`
  return `${result.name} running on port ${result.port} (pid ${result.pid}), ${took}`
}

/**
 * One account per service of a start or restart. When the live lines on a terminal already
 * ended in it (`shownLive`), only what they cannot hold follows: a failure's hint and log
 * lines. Otherwise a line per service: results on stdout, failures on stderr.
 */
export function startAccounts(c: {out: ChalkInstance; err: ChalkInstance}, results: readonly AttemptResult[], shownLive: boolean): {stdout: string[]; stderr: string[]} {
  return {
    stdout: shownLive ? [] : results.filter((r) => r.ok).map((result) => `${c.out.green('✓')} ${startedLine(result)}`),
    stderr: results.filter((r) => !r.ok).map((result) => renderFailure(c.err, result, {headline: !shownLive})),
  }
}

/** The lines under a service that did not become healthy. */
export function renderFailure(c: ChalkInstance, result: AttemptResult, options: {headline?: boolean} = {}): string {
  // Under a live progress line that already says why, the headline would say it twice.
  const headline = options.headline !== false
  const lines = headline ? [`${c.red('✗')} ${result.name}: ${result.reason ?? 'did not become healthy'}`] : []
  if (result.hint) lines.push(`  ${c.dim('hint')}  ${result.hint}`)
  if (result.logTail && result.logTail.length > 0) {
    lines.push(`  ${c.dim(`${headline ? '' : `${result.name}: `}last ${result.logTail.length} log lines:`)}`)
    for (const line of result.logTail) lines.push(`  ${c.dim('|')} ${line}`)
  }
  return lines.join('\n')
}

/** The line under the table while the daemon holds is_active changes the registry did not take. */
export function registryBehind(c: ChalkInstance, backlog: RegistryBacklog | null): string[] {
  if (!backlog || backlog.pendingWrites === 0) return []
  const why = backlog.lastError ? ` (${backlog.lastError})` : ''
  return [`${c.yellow('registry behind')}: ${backlog.pendingWrites} is_active change(s) not written yet${why}; the daemon writes them when the database answers, and services run on`]
}

/**
 * After a start, stop or restart whose is_active changes could not all be written: the rows
 * still say what they said before, so the platform may send Calls to a service that stopped,
 * or find none for one that started. Said after the accounts, where an operator looks last.
 */
export function registryBehindAfterChange(c: ChalkInstance, backlog: RegistryBacklog | undefined): string[] {
  if (!backlog || backlog.pendingWrites === 0) return []
  const why = backlog.lastError ? ` (${backlog.lastError})` : ''
  return [`${c.yellow('registry behind')}: ${backlog.pendingWrites} is_active change(s) not written yet${why}; the rows say what they said before, and the daemon writes the changes when the database answers`]
}

/**
 * After a shutdown that could not write every is_active change: the rows that still say
 * active send the platform's Calls to services that are gone, until someone marks them.
 */
export function unwrittenRows(c: ChalkInstance, unwritten: UnwrittenChanges | undefined, host: string): string[] {
  if (!unwritten || unwritten.changes.length === 0) return []
  const why = unwritten.lastError ? ` (${unwritten.lastError})` : ''
  const stillActive = unwritten.changes.filter((change) => !change.active).map((change) => change.name)
  const names = unwritten.changes.map((change) => change.name).join(', ')
  const lines = [`${c.yellow('registry behind')}: the daemon could not write ${unwritten.changes.length} is_active change(s) before it stopped${why}: ${names}`]
  if (stillActive.length > 0) {
    lines.push(
      `the rows of ${stillActive.join(', ')} on host ${host} still say active: once the database answers, qm start here writes them, or qm endpoints --check --mark-inactive from any host marks them`,
    )
  }
  return lines
}

export function certificateWarnings(c: ChalkInstance, certificates: readonly ExpiringCertificate[]): string[] {
  return certificates.map((cert) =>
    cert.daysLeft < 0
      ? `${c.red('certificate expired')}: ${cert.file} on ${cert.expiresAt.slice(0, 10)}; qm certs check, then renew it`
      : `${c.yellow('certificate expires soon')}: ${cert.file} in ${cert.daysLeft} day(s), on ${cert.expiresAt.slice(0, 10)}`,
  )
}

/** Services whose probes fail on qm's own credentials: not the services' fault, and never restarted for it. */
export function credentialWarnings(c: ChalkInstance, services: readonly InstanceStatus[]): string[] {
  const failing = services.filter((s) => s.health?.cause === 'qm-credentials')
  if (failing.length === 0) return []
  const reason = failing[0]!.health!.reason ?? failing[0]!.health!.status
  return [`${c.red("qm's own credentials fail")} for ${failing.map((s) => s.name).join(', ')}: ${reason}; qm certs check shows why (the services are not restarted for it)`]
}
