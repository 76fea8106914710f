// Spawns one service instance: argv through execa (never a shell), its own process
// group (detached) so a stop reaches its children, output into a pipe read by the
// service's own log process, and no tie to the daemon's life (cleanup off) so services
// and their logs outlive a daemon that dies.
import {spawn as spawnChild} from 'node:child_process'
import type {LogSettings} from '../manifest/types.js'
import {startLogWriter, type LogWriter} from './log-files.js'
import {processStartTime} from './proc.js'

export interface ExitInfo {
  code: number | null
  signal: string | null
}

export interface SpawnedProcess {
  pid: number
  startTime: number
  exited: Promise<ExitInfo>
  /** Resolves once the log process has written everything the service printed (or after a bound). */
  logged: () => Promise<void>
  /** Which of the service's log pipes it writes to ('' or 'next'). */
  logPipe: string
}

export interface SpawnRequest {
  executable: string
  args: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  logs: LogSettings
  /** The log pipe: '' unless another process of the service still writes through that one (a rollout). */
  logPipe?: string
  /** Its log process, started already (see Supervisor.start); one is started here otherwise. */
  logWriter?: LogWriter
}

export async function spawnProcess(request: SpawnRequest): Promise<SpawnedProcess> {
  const {execa} = await import('execa')
  const logPipe = request.logPipe ?? ''
  const writer = request.logWriter ?? startLogWriter(request.logFile, request.logs, spawnChild, logPipe)
  let child
  try {
    // execa's types list only fds 0-9, but it hands any fd to child_process.spawn as is.
    const pipeFd = writer.inputFd as 3
    child = execa(request.executable, request.args, {
      cwd: request.cwd,
      env: request.env,
      extendEnv: true,
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      stdout: pipeFd,
      stderr: pipeFd,
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    })
  } finally {
    // The service holds its own copy of the pipe's write end; with ours closed, the log
    // process sees the end of its input when the service and its children are gone.
    writer.closeInput()
  }
  const exited = child.then((result) => ({code: result.exitCode ?? null, signal: result.signal ?? null}))
  const pid = child.pid
  if (pid === undefined) {
    const result = await child
    throw new Error(result.shortMessage ?? `could not spawn ${request.executable}`)
  }
  return {pid, startTime: processStartTime(pid) ?? 0, exited, logged: writer.done, logPipe}
}
