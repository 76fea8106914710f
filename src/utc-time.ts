// An instant as ISO 8601 in UTC ("2026-12-02T10:00:00.000Z"), what Date's toISOString
// gives, built from the UTC fields. toISOString itself sets up V8's time-zone support from
// ICU's zone data on its first call: about 0.6 MiB of the Node binary resident for good in
// the daemon, which writes a time on each log line and into certificate findings, expiries
// and hooks' events. The UTC getters need no time zone.
const pad = (value: number, width = 2): string => String(value).padStart(width, '0')

export function utcTimestamp(ms: number): string {
  const d = new Date(ms)
  if (Number.isNaN(d.getTime())) throw new RangeError('Invalid time value')
  const year = d.getUTCFullYear()
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`
  return `${yearText}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`
}
