// Compiles schema/manifest.schema.json into plain JavaScript at build time (ajv's
// standalone mode, as CommonJS: its runtime helpers are required), so a command that reads the manifest does not pay ajv's compile,
// about 50 ms, on every run.
import {readFileSync, writeFileSync} from 'node:fs'
import {Ajv} from 'ajv'
import standaloneCode from 'ajv/dist/standalone/index.js'
import {AJV_OPTIONS, SCHEMA_ANNOTATIONS} from '../dist/manifest/schema-options.js'

const schema = JSON.parse(readFileSync(new URL('../schema/manifest.schema.json', import.meta.url), 'utf8'))
const ajv = new Ajv({...AJV_OPTIONS, code: {source: true}})
ajv.addVocabulary(SCHEMA_ANNOTATIONS)
const validate = ajv.compile(schema)
writeFileSync(new URL('../dist/manifest/manifest-validator.cjs', import.meta.url), standaloneCode.default(ajv, validate))
