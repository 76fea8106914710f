// Before any test: every system requirement of the suite is checked, and a missing one ends
// the run at once with the packages to install, rather than letting test files fail in
// set-up one by one. QM_TEST_SKIP_MISSING=1 is the one explicit opt-out: the tests that
// need what is missing are skipped, and the run says how many and why.
import type {TestProject} from 'vitest/node'
import {findMissingRequirements} from './requirements.js'

declare module 'vitest' {
  export interface ProvidedContext {
    missingRequirements: string[]
  }
}

export default function setup(project: TestProject): (() => void) | undefined {
  const missing = findMissingRequirements()
  project.provide('missingRequirements', missing.map((m) => m.package))
  if (missing.length === 0) return undefined
  const lines = missing.map((m) => `  ${m.package}: ${m.reason}`).join('\n')
  const packages = missing.map((m) => m.package).join(' ')
  if (process.env.QM_TEST_SKIP_MISSING !== '1') {
    throw new Error(
      `the tests need Debian packages that are missing:\n${lines}\n` +
        `install them with \`npm run setup\` (or apt-get install ${packages}), ` +
        'or run with QM_TEST_SKIP_MISSING=1 to skip the tests that need them',
    )
  }
  const say = () => process.stderr.write(`\nQM_TEST_SKIP_MISSING=1: tests that need ${packages} are skipped, because:\n${lines}\n`)
  say()
  return say
}
