// What `qm top` draws: a frame of exactly the terminal's size, made of a header (daemon,
// registry, counts per state), the table of instances with the selected one marked, and a
// footer (keys, or what an action did); or the log pane of one service; or the help. Pure:
// a state and a size in, lines out, so that a frame can be tested without a terminal.
import type {ChalkInstance} from 'chalk'
import type {InstanceStatus, ServiceState} from '../supervisor/states.js'
import {stateColour} from './service-report.js'
import {renderTable} from './table.js'
import {cutVisible as cut, visibleLength} from './text-width.js'

export interface TopRow extends InstanceStatus {
  /** Latencies of the recent probe answers, in ms, oldest first. */
  recentLatencies: number[]
  /** Days until the soonest of its certificates runs out; null when none can be read. */
  certificateDays: number | null
}

export type TopMode =
  | {kind: 'table'}
  | {kind: 'help'}
  | {kind: 'confirm'; question: string}
  | {kind: 'log'; name: string; lines: string[]; search: string | undefined; typing: boolean; hit: number | undefined}

export interface TopState {
  daemonPid: number
  registry: string
  pendingWrites: number
  rows: TopRow[]
  selected: number
  mode: TopMode
  /** The last thing an action said, under the table. */
  message: string | undefined
}

const HELP = [
  'qm top: the services of this manifest, live from the daemon',
  '',
  '  ↑ ↓  j k      select a service',
  '  enter  l      its log, following; / searches it, n finds the next hit, esc goes back',
  '  r             restart it (asks first when it serves)',
  '  s             stop it (asks first when it serves)',
  '  t             start it',
  '  o             roll it out: a new process before the old one goes (asks first)',
  '  ?             this help',
  '  q  Ctrl-C     leave; every service keeps running',
  '',
  'Any key closes the help.',
]

export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

const ms = (value: number | undefined) => (value === undefined ? '-' : value < 10 ? value.toFixed(1) : String(Math.round(value)))

function duration(msValue: number | null): string {
  if (msValue === null) return '-'
  const s = Math.floor(msValue / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`
}

type Column = {head: string; cell: (row: TopRow) => string}

function columns(c: ChalkInstance): Column[] {
  return [
    {head: 'NAME', cell: (row) => row.name},
    {head: 'STATE', cell: (row) => stateColour(c, row.state) + (row.drainLeftMs === null ? '' : ` ${Math.ceil(row.drainLeftMs / 1000)}s`)},
    {head: 'PID', cell: (row) => (row.pid === null ? '-' : String(row.pid))},
    {head: 'PORT', cell: (row) => (row.port === null ? '-' : String(row.port))},
    {head: 'HEALTH', cell: (row) => (row.health ? (row.health.status === 'SERVING' ? `${ms(row.health.latencyMs)}ms` : c.red(row.health.status)) : '-')},
    {head: 'P50', cell: (row) => ms(percentile(row.recentLatencies, 50))},
    {head: 'P99', cell: (row) => ms(percentile(row.recentLatencies, 99))},
    {head: 'VERSION', cell: (row) => (!row.version ? '-' : row.expectedVersion && row.version !== row.expectedVersion ? c.yellow(`${row.version}≠${row.expectedVersion}`) : row.version)},
    {head: 'UPTIME', cell: (row) => duration(row.uptimeMs)},
    {head: 'RST', cell: (row) => String(row.restarts)},
    {head: 'CPU', cell: (row) => (row.cpuPercent === null ? '-' : `${row.cpuPercent.toFixed(1)}%`)},
    {head: 'MEM', cell: (row) => (row.memoryBytes === null ? '-' : `${Math.round(row.memoryBytes / 1024 / 1024)}M`)},
    {head: 'CERT', cell: (row) => (row.certificateDays === null ? '-' : row.certificateDays < 30 ? c.red(`${row.certificateDays}d`) : `${row.certificateDays}d`)},
  ]
}

// Least useful first, until every line fits: the name, state and health stay.
const DROP_ORDER = ['P99', 'CPU', 'CERT', 'UPTIME', 'P50', 'VERSION', 'MEM', 'PID', 'RST', 'PORT']

function table(c: ChalkInstance, rows: readonly TopRow[], width: number): string[] {
  let shown = columns(c)
  const render = () => renderTable(shown.map((column) => column.head), rows.map((row) => shown.map((column) => column.cell(row)))).split('\n')
  let lines = render()
  for (const head of DROP_ORDER) {
    if (lines.every((line) => visibleLength(line) <= width - 2)) break
    shown = shown.filter((column) => column.head !== head)
    lines = render()
  }
  return lines
}

export function renderTop(c: ChalkInstance, state: TopState, size: {columns: number; rows: number}): string[] {
  const width = Math.max(20, size.columns)
  const height = Math.max(5, size.rows)
  const fit = (line: string) => cut(line, width)
  if (state.mode.kind === 'log') return logPane(c, state.mode, width, height)
  if (state.mode.kind === 'help') return pad(HELP.map(fit), height)

  const counts = new Map<ServiceState, number>()
  for (const row of state.rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1)
  const header = [
    fit(`${c.bold('qm top')}  daemon ${state.daemonPid}  registry ${state.registry}${state.pendingWrites > 0 ? c.yellow(`, ${state.pendingWrites} writes pending`) : ''}`),
    fit([...counts].map(([s, n]) => `${stateColour(c, s)} ${n}`).join('  ')),
  ]
  const [head, ...body] = table(c, state.rows, width)
  const footer =
    state.mode.kind === 'confirm'
      ? c.inverse(` ${state.mode.question} (y/n) `)
      : state.message !== undefined
        ? state.message
        : c.dim('↑↓ select  enter log  r restart  s stop  t start  o rollout  ? help  q quit')
  // The table scrolls so that the selected row stays in sight.
  const room = Math.max(1, height - header.length - 2 - 1)
  const first = Math.min(Math.max(0, state.selected - room + 1), Math.max(0, body.length - room))
  const visible = body.slice(first, first + room).map((line, i) => {
    const selected = first + i === state.selected
    const text = cut(`${selected ? '›' : ' '} ${line}`, width)
    return selected ? c.inverse(text + ' '.repeat(Math.max(0, width - visibleLength(text)))) : text
  })
  return [...header, fit(`  ${head ?? ''}`), ...pad(visible, room), '', fit(footer)].slice(0, height)
}

function logPane(c: ChalkInstance, mode: Extract<TopMode, {kind: 'log'}>, width: number, height: number): string[] {
  const room = height - 2
  const hits = mode.search ? mode.lines.flatMap((line, i) => (line.includes(mode.search!) ? [i] : [])) : []
  // Following the end, unless a search hit is being looked at.
  const target = mode.hit !== undefined ? hits[mode.hit] : undefined
  const end = target === undefined ? mode.lines.length : Math.min(mode.lines.length, target + Math.ceil(room / 2))
  const start = Math.max(0, end - room)
  const shown = mode.lines.slice(start, end).map((line, i) => {
    const text = cut(line, width)
    if (!mode.search || !line.includes(mode.search)) return text
    return start + i === target ? c.inverse(text) : text.split(mode.search).join(c.yellow(mode.search))
  })
  const status = mode.typing
    ? `/${mode.search ?? ''}`
    : mode.search
      ? `/${mode.search}: ${hits.length === 0 ? 'no hit' : `hit ${(mode.hit ?? 0) + 1} of ${hits.length}`}  n next  esc back`
      : c.dim('following  / search  esc back  q quit')
  return [cut(c.bold(`log of ${mode.name}`), width), ...pad(shown, room), cut(status, width)]
}

function pad(lines: string[], count: number): string[] {
  return [...lines, ...Array.from({length: Math.max(0, count - lines.length)}, () => '')].slice(0, count)
}
