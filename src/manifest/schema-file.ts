// The manifest's JSON Schema as shipped in schema/; kept apart from the validator so
// `qm schema` prints it without loading ajv.
import {readFileSync} from 'node:fs'
import {packagePath} from '../package-paths.js'

export function readManifestSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(packagePath('schema', 'manifest.schema.json'), 'utf8')) as Record<string, unknown>
}
