// Spawns one service instance: argv through execa (never a shell), its own process
// group (detached) so a stop reaches its children, output into its log file, and no
// tie to the daemon's life (cleanup off) so services outlive a daemon that dies.
import {closeSync} from 'node:fs'
import {openLogForChild} from './log-files.js'
import {processStartTime} from './proc.js'

export interface ExitInfo {
  code: number | null
  signal: string | null
}

export interface SpawnedProcess {
  pid: number
  startTime: number
  exited: Promise<ExitInfo>
}

export interface SpawnRequest {
  executable: string
  args: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
}

export async function spawnProcess(request: SpawnRequest): Promise<SpawnedProcess> {
  const {execa} = await import('execa')
  // execa's types list only fds 0-9, but it hands any fd to child_process.spawn as is.
  const logFd = openLogForChild(request.logFile) as 3
  let child
  try {
    child = execa(request.executable, request.args, {
      cwd: request.cwd,
      env: request.env,
      extendEnv: true,
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      stdout: logFd,
      stderr: logFd,
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    })
  } finally {
    closeSync(logFd) // the child holds its own copy
  }
  const exited = child.then((result) => ({code: result.exitCode ?? null, signal: result.signal ?? null}))
  const pid = child.pid
  if (pid === undefined) {
    const result = await child
    throw new Error(result.shortMessage ?? `could not spawn ${request.executable}`)
  }
  return {pid, startTime: processStartTime(pid) ?? 0, exited}
}
