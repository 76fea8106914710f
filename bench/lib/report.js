// One table (or the same as JSON, to compare runs): each figure's median, its p10–p90 and
// min–max spreads, how many samples, and the aim it is held to where there is one.
import {availableParallelism, cpus, loadavg, release} from 'node:os'
import {summarize} from './stats.js'

const MIB = 1024 * 1024

export function machine() {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    // Node builds its store of root certificates at every start when this is set: some 40 ms
    // more for each Node command (qm's, PM2's, `node -e 0`), none for supervisorctl (Python).
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS !== undefined,
  }
}

function formatValue(value, unit) {
  if (!Number.isFinite(value)) return '–'
  if (unit === 'x') return `${value.toFixed(2)}×`
  if (unit === 'bytes') return `${(value / MIB).toFixed(1)} MiB`
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  if (value >= 100) return `${value.toFixed(0)} ms`
  if (value >= 10) return `${value.toFixed(1)} ms`
  return `${value.toFixed(2)} ms`
}

function formatRange(low, high, unit) {
  if (!Number.isFinite(low)) return '–'
  return `${formatValue(low, unit)} – ${formatValue(high, unit)}`
}

/** The figures with their summaries and, where an aim applies, whether the median meets it. */
export function evaluate(figures, samples) {
  const summaries = Object.fromEntries(figures.map((f) => [f.id, summarize(samples[f.id] ?? [])]))
  return figures.map((figure) => {
    const summary = summaries[figure.id]
    const aim = figure.aim?.(summaries)
    return {
      ...figure,
      ...summary,
      aim: aim ? {text: aim.text, limit: aim.limit, met: summary.median <= aim.limit} : undefined,
    }
  })
}

export function renderTable(header, rows, notes) {
  const columns = ['figure', 'median', 'p10 – p90', 'min – max', 'n', 'aim']
  const cells = rows.map((row) => [
    row.label,
    formatValue(row.median, row.unit),
    formatRange(row.p10, row.p90, row.unit),
    formatRange(row.min, row.max, row.unit),
    String(row.n),
    row.aim ? `${row.aim.text}: ${row.aim.met ? 'met' : 'MISSED'}` : '',
  ])
  const widths = columns.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i].length)))
  const line = (values) => values.map((value, i) => (i === 0 || i === 5 ? value.padEnd(widths[i]) : value.padStart(widths[i]))).join('  ').trimEnd()
  return [
    ...header,
    '',
    line(columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map(line),
    ...(notes.length > 0 ? ['', ...notes.map((note) => `note: ${note}`)] : []),
  ].join('\n')
}

const round = (value) => (Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null)

export function toJson(meta, rows, notes, rawSamples) {
  const samples = Object.fromEntries(Object.entries(rawSamples).map(([id, values]) => [id, values.map(round)]))
  return JSON.stringify(
    {
      ...meta,
      figures: rows.map(({id, label, unit, n, median, p10, p90, min, max, aim}) => ({
        id,
        label: label.trim(),
        unit,
        n,
        median: round(median),
        p10: round(p10),
        p90: round(p90),
        min: round(min),
        max: round(max),
        aim: aim ? {...aim, limit: round(aim.limit)} : null,
      })),
      notes,
      samples,
    },
    null,
    2,
  )
}
