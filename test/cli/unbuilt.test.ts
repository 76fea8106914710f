// A checkout where `npm run setup` has not run yet has bin/ but no dist/: the first thing a
// new user may type there must say what to run, not ask them to report a bug.
import {cpSync, mkdirSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {describe, expect, test} from 'vitest'
import {REPO} from '../helpers/services.js'
import {tempDir} from '../helpers/temp-dir.js'

/** bin/ and package.json of this checkout in a folder of their own, with what of dist/ is given. */
function checkout(distFiles: string[]): string {
  const dir = join(tempDir('qm-unbuilt-'), 'qm')
  mkdirSync(dir)
  cpSync(join(REPO, 'bin'), join(dir, 'bin'), {recursive: true})
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'))
  for (const file of distFiles) cpSync(join(REPO, file), join(dir, file), {recursive: true})
  return dir
}

async function run(dir: string, args: string[]) {
  const cwd = tempDir('qm-unbuilt-cwd-')
  const result = await execa(process.execPath, [join(dir, 'bin', 'run.js'), ...args], {cwd, reject: false, stdin: 'ignore', env: {NO_COLOR: '1'}})
  return {exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), cwdAfter: readdirSync(cwd)}
}

describe('a checkout that is not built', () => {
  test.each([['status'], ['--version'], ['up'], ['start', '--json']])('qm %s says to build it, exits 1 and writes nothing', async (...args) => {
    const dir = checkout([])
    const result = await run(dir, args)
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `error qm is not built in ${dir}: its dist/ folder is missing or incomplete\nhint  run npm run setup in that folder (or npm ci, then npm run build)`,
      cwdAfter: [],
    })
  })

  test.each([['status'], ['up']])('with only a part of dist/, qm %s says the same', async (...args) => {
    const dir = checkout(['dist/cli/argv.cjs'])
    const result = await run(dir, args)
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toBe(`error qm is not built in ${dir}: its dist/ folder is missing or incomplete\nhint  run npm run setup in that folder (or npm ci, then npm run build)`)
  })
})
