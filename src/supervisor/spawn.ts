// Spawns one service instance: an argv (never a shell), its own process group (detached)
// so a stop reaches its children, output into a pipe read by a log process (its own, or
// one shared by the services of a start), and no tie to the daemon's life, so services and
// their logs outlive a daemon that dies. child_process rather than execa, which the rest of qm uses: this is one spawn
// with two descriptors and an exit, and importing execa cost the daemon's first start
// 145 ms and its resident memory about 2.6 MB (measured under the daemon's V8 flags).
import {spawn as spawnChild} from 'node:child_process'
import type {LogSettings} from '../manifest/types.js'
import {openLogPipes, type LogWriter} from './log-files.js'
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
  logged: (waitMs?: number) => Promise<void>
  /** Which of the service's log pipes it writes to ('' or 'next'). */
  logPipe: string
  /** Whether its log process has written all it read from the pipe and let go of it (or has ended). */
  logReleased: () => boolean
  /**
   * Starts its own log process, which spawnProcess leaves to the caller; once only, and
   * nothing to do when it was given a writer. Returns why it could not be started.
   */
  startLogging: () => string | undefined
}

export interface SpawnRequest {
  executable: string
  args: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  logs: LogSettings
  /** The log pipe, when no writer is given: '' unless the log process of another process of the service may still read that one. */
  logPipe?: string
  /** Its log process, started already (see Supervisor.start); one is started here otherwise. */
  logWriter?: LogWriter
}

/**
 * Synchronous, so that the caller records the pid before anything else runs: a daemon that
 * dies between a spawn and that record leaves a process the next daemon cannot adopt.
 */
export function spawnProcess(request: SpawnRequest): SpawnedProcess {
  const logPipe = request.logWriter?.pipe ?? request.logPipe ?? ''
  const pipes = request.logWriter ? undefined : openLogPipes([{path: request.logFile, settings: request.logs, pipe: logPipe}])
  const writer = request.logWriter ?? pipes!.writers[0]!
  let child
  try {
    child = spawnChild(request.executable, request.args, {
      cwd: request.cwd,
      env: {...process.env, ...request.env},
      detached: true,
      stdio: ['ignore', writer.inputFd, writer.inputFd],
    })
  } catch (error) {
    pipes?.discard()
    throw error
  } finally {
    // The service holds its own copy of the pipe's write end; with ours closed, the log
    // process sees the end of its input when the service and its children are gone.
    writer.closeInput()
  }
  const exited = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  const pid = child.pid
  if (pid === undefined) {
    pipes?.discard()
    // Node tells why on the next tick, too late for a synchronous caller; resolveExecutable
    // and the working-folder check have ruled out the usual reasons before this point.
    child.once('error', () => undefined)
    throw new Error(`could not spawn ${request.executable}`)
  }
  // Its log process after the service, not before, and when the caller says: a respawn
  // that waits for no exec but the service's own answers sooner, and what the service
  // prints meanwhile waits in the pipe, whose read end is held open here until then.
  let loggingStarted = pipes === undefined
  const startLogging = (): string | undefined => {
    if (loggingStarted) return undefined
    loggingStarted = true
    try {
      pipes!.startReading(spawnChild)
      return undefined
    } catch (error) {
      // The service runs already and must be recorded. Without a reader, its next write to
      // the pipe fails (EPIPE, or SIGPIPE where that is not ignored), as after a log
      // process's death; its next launch makes a new one.
      return `its log process could not be started: ${(error as Error).message}`
    }
  }
  return {pid, startTime: processStartTime(pid) ?? 0, exited, logged: writer.done, logPipe, logReleased: writer.released, startLogging}
}
