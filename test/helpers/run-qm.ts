// Runs the built CLI as a user would: a real process, real exit code, real streams.
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

export const QM_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface QmResult {
  exitCode: number
  stdout: string
  stderr: string
}

export function startQm(args: string[], options: {cwd: string; env?: Record<string, string>}) {
  return execa(process.execPath, [QM_BIN, ...args], {
    cwd: options.cwd,
    env: {NO_COLOR: '1', ...options.env},
    extendEnv: true,
    reject: false,
    stdin: 'ignore',
  })
}

export async function runQm(args: string[], options: {cwd: string; env?: Record<string, string>}): Promise<QmResult> {
  const result = await startQm(args, options)
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

/** One service of `qm status --json`, the fields the tests read. */
export interface StatusRow {
  name: string
  state: string
  pid: number | null
  port: number | null
  restarts: number
  health: {status: string} | null
}
