// A short SHA-256 name for a path or a launch, with node:crypto loaded only on first use:
// loading it is some 6 ms of a command, and `qm status`, `qm logs` and `qm endpoints` need
// a digest only for a state folder whose socket path is too long.
import {createRequire} from 'node:module'

const requireBuiltin = createRequire(import.meta.url)

/** The first `length` hex digits of the SHA-256 of `text`. */
export function sha256Hex(text: string, length: number): string {
  const {createHash} = requireBuiltin('node:crypto') as typeof import('node:crypto')
  return createHash('sha256').update(text).digest('hex').slice(0, length)
}
