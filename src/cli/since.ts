// `qm logs --since`: a duration back from now, or an ISO 8601 time.
import {UsageError} from '../errors.js'
import {durationMs} from '../manifest/units.js'

const HINT = 'give a duration back from now (10m, 2h) or an ISO 8601 time (2026-12-01T15:00:00Z)'

export function sinceTime(text: string, nowMs = Date.now()): string {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const at = Date.parse(text)
    if (Number.isNaN(at)) throw new UsageError(`--since ${text} is not a time`, HINT)
    return new Date(at).toISOString()
  }
  let ms: number
  try {
    ms = durationMs(text)
  } catch {
    throw new UsageError(`--since ${text} is not a duration or a time`, HINT)
  }
  return new Date(nowMs - ms).toISOString()
}
