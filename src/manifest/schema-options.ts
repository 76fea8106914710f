// One set of ajv options for the validator generated at build time and the one
// compiled on the fly when running from source, so both judge alike.
import type {Options} from 'ajv'

export const AJV_OPTIONS: Options = {allErrors: false, verbose: true, strict: true, allowUnionTypes: true}
export const SCHEMA_ANNOTATIONS = ['x-expected']
