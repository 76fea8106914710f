// A refused command as the operator reads it: "error MESSAGE" and "hint  WHAT TO DO" on
// stderr, or with --json the error object on stdout. The oclif commands and the fast
// path both print their errors through this.
import type {QmError} from '../errors.js'
import {colourFor} from './colour.js'

export function writeError(error: QmError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({error: error.toJSON()}, null, 2)}\n`)
    return
  }
  const c = colourFor(process.stderr)
  process.stderr.write(`${c.red('error')} ${error.message}\n`)
  if (error.hint) process.stderr.write(`${c.dim('hint')}  ${error.hint}\n`)
  if (process.env.QM_DEBUG === '1' && error.stack) process.stderr.write(`${error.stack}\n`)
}
