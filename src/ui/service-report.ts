// How service states read on a terminal: the status table, one line per state change,
// and the failure report with a service's last log lines.
import type {ChalkInstance} from 'chalk'
import ms from 'ms'
import type {ExpiringCertificate} from '../certs/expiry.js'
import type {RegistryBacklog} from '../supervisor/registry-writes.js'
import type {AttemptResult, InstanceStatus} from '../supervisor/service-runner.js'
import type {ServiceState} from '../supervisor/states.js'
import {renderTable} from './table.js'

export function stateColour(c: ChalkInstance, state: ServiceState): string {
  switch (state) {
    case 'running':
      return c.green(state)
    case 'starting':
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

export function renderStatusTable(c: ChalkInstance, rows: readonly InstanceStatus[]): string {
  const body = rows.map((row) => [
    row.name,
    stateColour(c, row.state),
    row.pid === null ? '-' : String(row.pid),
    row.port === null ? '-' : String(row.port),
    health(c, row),
    version(c, row),
    row.uptimeMs === null ? '-' : ms(row.uptimeMs),
    String(row.restarts),
    row.cpuPercent === null ? '-' : `${row.cpuPercent.toFixed(1)}%`,
    row.memoryBytes === null ? '-' : `${(row.memoryBytes / 1024 / 1024).toFixed(1)}M`,
  ])
  return renderTable(['NAME', 'STATE', 'PID', 'PORT', 'HEALTH', 'VERSION', 'UPTIME', 'RESTARTS', 'CPU', 'MEM'], body)
}

function health(c: ChalkInstance, row: InstanceStatus): string {
  if (!row.health) return '-'
  const text = `${row.health.status} ${row.health.latencyMs.toFixed(1)}ms`
  return row.health.status === 'SERVING' ? text : c.red(text)
}

function version(c: ChalkInstance, row: InstanceStatus): string {
  if (!row.version) return '-'
  if (row.expectedVersion && row.version !== row.expectedVersion) return c.yellow(`${row.version} (expected ${row.expectedVersion})`)
  return row.version
}

/** The lines under a service that did not become healthy. */
export function renderFailure(c: ChalkInstance, result: AttemptResult): string {
  const lines = [`${c.red('✗')} ${result.name}: ${result.reason ?? 'did not become healthy'}`]
  if (result.hint) lines.push(`  ${c.dim('hint')}  ${result.hint}`)
  if (result.logTail && result.logTail.length > 0) {
    lines.push(`  ${c.dim(`last ${result.logTail.length} log lines:`)}`)
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
