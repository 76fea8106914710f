// Files shipped in the package (schema/, proto/) are found from this module's own
// place, which is src/ under tests and dist/ when built: both sit one level down.
import {fileURLToPath} from 'node:url'
import {join} from 'node:path'

const packageRoot = fileURLToPath(new URL('..', import.meta.url))

export function packagePath(...parts: string[]): string {
  return join(packageRoot, ...parts)
}
