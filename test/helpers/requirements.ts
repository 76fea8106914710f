// Test files ask here whether to skip what needs a Debian package the machine lacks. Without
// QM_TEST_SKIP_MISSING=1 the global set-up has already ended the run in that case, so this
// answers true only under that explicit opt-out.
import {inject} from 'vitest'
import type {Requirement} from '../requirements.js'

export function lacks(...requirements: Requirement[]): boolean {
  const missing = inject('missingRequirements')
  return requirements.some((r) => missing.includes(r))
}
