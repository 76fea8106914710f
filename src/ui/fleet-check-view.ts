// What `qm endpoints --check` prints: a row per registry row with its probe and verdict, a
// summary that names the stale rows' count, and what --mark-inactive did or would do.
import type {ChalkInstance} from 'chalk'
import type {FleetCheck, RowCheck, RowVerdict} from '../fleet/check.js'
import type {MarkOutcome} from '../fleet/mark.js'
import {renderTable} from './table.js'

const VERDICT_WORDS: Record<RowVerdict, string> = {
  passing: 'passing',
  stale: 'STALE',
  failing: 'failing',
  unknown: 'unknown',
  inactive: '-',
}

export function renderFleetCheck(c: ChalkInstance, check: FleetCheck): string {
  const paint: Record<RowVerdict, (text: string) => string> = {passing: c.green, stale: c.red, failing: c.yellow, unknown: c.yellow, inactive: c.dim}
  const lines: string[] = []
  if (check.rows.length > 0) {
    const rows = check.rows.map((row) => [
      row.endpoint.host,
      String(row.endpoint.port),
      row.endpoint.name,
      row.endpoint.active ? 'ACTIVE' : c.dim('INACTIVE'),
      probeText(row),
      paint[row.verdict](VERDICT_WORDS[row.verdict]),
      row.probe.status === 'SERVING' ? (row.probe.version ?? '') : (row.probe.reason ?? ''),
    ])
    lines.push(renderTable(['HOST', 'PORT', 'NAME', 'ROW', 'PROBE', 'CHECK', 'DETAIL'], rows))
  }
  const {passing, stale, failing, unknown, inactive} = check.counts
  const where = check.host === null ? 'every host' : `host ${check.host}`
  lines.push(
    `${check.rows.length} row(s) of ${where} probed from here (timeout ${check.timeoutMs / 1000}s): ${passing} passing, ` +
      `${stale > 0 ? c.red(`${stale} stale (active, nothing answers)`) : '0 stale'}, ${failing} failing (answer, not serving), ${unknown > 0 ? `${unknown} unknown (host not resolved here), ` : ''}${inactive} inactive`,
  )
  return lines.join('\n')
}

function probeText(row: RowCheck): string {
  return `${row.probe.status} ${row.probe.latencyMs.toFixed(1)} ms`
}

/** The hint after a check that found stale rows and was not asked to mark them. */
export function markHint(check: FleetCheck, command: string): string | undefined {
  if (check.counts.stale === 0) return undefined
  return `${command} --mark-inactive marks the ${check.counts.stale} stale row(s) inactive, after asking, so the platform stops sending them Calls`
}

export function renderMarkOutcome(c: ChalkInstance, outcome: MarkOutcome): string {
  const lines = [
    ...outcome.marked.map((e) => `marked inactive: ${e.name} on ${e.host}:${e.port}`),
    ...outcome.leftAlone.map(({endpoint: e, reason}) => c.yellow(`left alone: ${e.name} on ${e.host}:${e.port}: ${reason} since it was probed`)),
  ]
  lines.push(`${outcome.marked.length} row(s) marked inactive${outcome.leftAlone.length > 0 ? `, ${outcome.leftAlone.length} left alone` : ''}`)
  return lines.join('\n')
}
