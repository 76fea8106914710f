// Checks the document against the JSON Schema shipped in schema/, then turns the
// first violation into one line that names file:line:column, the field, what was
// expected and what was found.
import type {ErrorObject, ValidateFunction} from 'ajv'
import {readManifestSchema} from './schema-file.js'
import {AJV_OPTIONS, SCHEMA_ANNOTATIONS} from './schema-options.js'
import type {FieldPath, ManifestSource} from './source.js'
import {closest} from '../closest-word.js'

type SchemaNode = {
  'x-expected'?: string
  properties?: Record<string, unknown>
  enum?: unknown[]
  const?: unknown
  type?: string | string[]
}

// The build writes manifest-validator.cjs beside this module (scripts/build-validator.mjs);
// running from source, as the unit tests do, compiles the same schema with the same options.
async function loadValidator(): Promise<ValidateFunction> {
  try {
    // @ts-expect-error generated at build time, absent in src/
    return ((await import('./manifest-validator.cjs')) as {default: ValidateFunction}).default
  } catch (error) {
    if ((error as {code?: string}).code !== 'ERR_MODULE_NOT_FOUND') throw error
  }
  const {Ajv} = await import('ajv')
  const ajv = new Ajv(AJV_OPTIONS)
  ajv.addVocabulary(SCHEMA_ANNOTATIONS)
  return ajv.compile(readManifestSchema())
}

export async function validateAgainstSchema(source: ManifestSource, value: unknown): Promise<void> {
  const validate = await loadValidator()
  if (validate(value)) return
  // allErrors is off: ajv stops at the first violation, and one line is what we show.
  throw describe(source, validate.errors![0]!)
}

function describe(source: ManifestSource, error: ErrorObject) {
  const path = toPath(error.instancePath)
  const schema = (error.parentSchema ?? {}) as SchemaNode
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty)
      const known = Object.keys(schema.properties ?? {})
      const guess = closest(field, known)
      return source.error(
        [...path, field],
        `unknown field "${field}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
        known.length > 0 ? `fields allowed here: ${known.join(', ')}` : undefined,
        {atKey: true},
      )
    }
    case 'required':
      return source.error(path, `missing required field "${String(params.missingProperty)}"`)
    case 'propertyNames': {
      const name = String(params.propertyName)
      return source.error([...path, name], `"${name}" is not a valid name; expected ${expectedOf(schema, error)}`, undefined, {atKey: true})
    }
    case 'pattern':
      if (error.propertyName !== undefined) {
        return source.error([...path, error.propertyName], `"${error.propertyName}" is not a valid name; expected ${expectedOf(schema, error)}`, undefined, {atKey: true})
      }
      return source.error(path, `must be ${expectedOf(schema, error)}, got ${show(error.data)}`)
    default:
      return source.error(path, `must be ${expectedOf(schema, error)}, got ${show(error.data)}`)
  }
}

function expectedOf(schema: SchemaNode, error: ErrorObject): string {
  if (schema['x-expected']) return schema['x-expected']
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'enum':
      return `one of ${(schema.enum ?? []).map((v) => String(v)).join(', ')}`
    case 'const':
      return show(schema.const)
    case 'type':
      return article(String(params.type).replace(',', ' or '))
    case 'minimum':
      return `at least ${String(params.limit)}`
    case 'maximum':
      return `at most ${String(params.limit)}`
    case 'minLength':
      return 'a non-empty string'
    case 'minItems':
      return `a list of at least ${String(params.limit)} item(s)`
    case 'maxItems':
      return `a list of at most ${String(params.limit)} item(s)`
    case 'minProperties':
      return `a mapping with at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`
    case 'uniqueItems':
      return 'a list without repeats'
    default:
      return error.message ?? 'valid'
  }
}

function article(type: string): string {
  const names: Record<string, string> = {object: 'a mapping', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false'}
  return type.split(' or ').map((t) => names[t] ?? t).join(' or ')
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list'
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping'
  return JSON.stringify(value)
}

function toPath(pointer: string): FieldPath {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part))
}
