// The running version a service sends in its response metadata, under the first of the
// version keys it carries (headers first, then trailers).
import {DEFAULT_VERSION_KEYS} from '../manifest/defaults.js'

/** One side's metadata, asked for a key's first value (keys are lower case on the wire). */
export type MetadataLookup = (key: string) => string | undefined

export function readVersion(keys: readonly string[] | undefined, headers: MetadataLookup | undefined, trailers: MetadataLookup | undefined): string | undefined {
  for (const key of keys ?? DEFAULT_VERSION_KEYS) {
    const lower = key.toLowerCase()
    const value = headers?.(lower) ?? trailers?.(lower)
    if (value !== undefined) return value
  }
  return undefined
}

/** HTTP/2 headers or trailers as Node gives them. */
export function headerLookup(fields: Record<string, string | string[] | number | undefined> | undefined): MetadataLookup | undefined {
  if (!fields) return undefined
  return (key) => {
    const value = fields[key]
    const first = Array.isArray(value) ? value[0] : value
    return first === undefined ? undefined : String(first)
  }
}
