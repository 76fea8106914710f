// The README's error table is the list in src/error-codes.ts, code for code and exit code
// for exit code; QmError takes only codes of that list (the compiler holds that side).
import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {ERROR_CODES} from '../../src/error-codes.js'
import {REPO} from '../helpers/services.js'

describe('the error codes', () => {
  it('are the rows of the README’s error table, with the same exit codes', () => {
    const readme = readFileSync(`${REPO}README.md`, 'utf8')
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]])
    expect(rows).toEqual(Object.entries(ERROR_CODES).map(([code, {exitCode, meaning}]) => [code, exitCode, meaning]))
  })

  it('use exit 2 for usage and manifest errors, 130 for Ctrl-C, 1 for the rest', () => {
    for (const [code, {exitCode}] of Object.entries(ERROR_CODES)) {
      const expected = ['USAGE', 'MANIFEST', 'REGISTRY_URL'].includes(code) ? 2 : code === 'INTERRUPTED' ? 130 : 1
      expect({code, exitCode}).toEqual({code, exitCode: expected})
    }
  })
})
