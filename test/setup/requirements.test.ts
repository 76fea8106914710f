// The one list of Debian packages (scripts/debian-packages.txt) is the one the set-up installs
// and the tests check: every requirement the suite checks names a package of that list.
import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {REQUIREMENTS} from '../requirements.js'
import {REPO} from '../helpers/services.js'

function listedPackages(): string[] {
  return readFileSync(`${REPO}scripts/debian-packages.txt`, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/)[0]!)
}

describe('the Debian package list', () => {
  it('names every package the tests check for, and nothing the tests do not check', () => {
    expect(listedPackages().sort()).toEqual(Object.keys(REQUIREMENTS).sort())
  })

  it('is what .ci/run installs: through npm run setup, the same path as a new user', () => {
    const ci = readFileSync(`${REPO}.ci/run`, 'utf8')
    expect(ci).toMatch(/^npm run setup$/m)
    expect(ci).toMatch(/^npm test$/m)
    expect(ci).not.toMatch(/apt-get install/)
  })
})
