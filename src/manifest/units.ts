// Durations ("500ms", "10s") and sizes ("10MB") as the manifest writes them. The
// schema has already checked the form, so these only convert.
import ms from 'ms'
import {UsageError} from '../errors.js'

/** The form the schema accepts for a duration; also what the commands' duration flags take. */
const DURATION = /^[0-9]+(\.[0-9]+)?(ms|s|m|h)$/

/** A duration typed on the command line, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  return DURATION.test(text.trim()) ? durationMs(text.trim()) : undefined
}

/** --timeout: a number with its unit (500ms, 10s, 2m), as the manifest writes durations. */
export function durationFlag(text: string, flag = '--timeout', options: {zero?: boolean} = {}): number {
  const ms = parseDuration(text) ?? Number.NaN
  if (!(ms >= (options.zero ? 0 : 1))) throw new UsageError(`${flag} must be a duration such as 500ms, 10s or 2m, got "${text}"`)
  return Math.round(ms)
}

export function durationMs(text: string): number {
  const value = ms(text as ms.StringValue)
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`not a duration: ${text}`)
  return Math.round(value)
}

const SIZE_UNITS: Record<string, number> = {B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3}

export function sizeBytes(text: string): number {
  const match = /^(\d+)(B|KB|MB|GB)$/.exec(text)
  if (!match) throw new Error(`not a size: ${text}`)
  return Number(match[1]) * SIZE_UNITS[match[2]!]!
}
