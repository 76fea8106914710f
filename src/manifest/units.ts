// Durations ("500ms", "10s") and sizes ("10MB") as the manifest writes them. The
// schema has already checked the form, so these only convert.
import ms from 'ms'

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
