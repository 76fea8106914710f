// The running version a service sends in its response metadata, under the first of the
// version keys it carries (headers first, then trailers).
import type * as grpc from '@grpc/grpc-js'
import {DEFAULT_VERSION_KEYS} from '../manifest/defaults.js'

export function readVersion(
  keys: readonly string[] | undefined,
  headers: grpc.Metadata | undefined,
  trailers: grpc.Metadata | undefined,
): string | undefined {
  for (const key of keys ?? DEFAULT_VERSION_KEYS) {
    const value = headers?.get(key)[0] ?? trailers?.get(key)[0]
    if (value !== undefined) return value.toString()
  }
  return undefined
}
