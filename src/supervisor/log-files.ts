// Each service's stdout and stderr go through a named pipe to a log process
// (libexec/qm-log-writer), which appends to .qm/logs/NAME.log and rotates it by renaming
// to NAME.log.1 … NAME.log.KEEP before a write would pass logs.max_size. The services a
// start launches together share one log process; one launched on its own (a restart, a
// rollout's new process) gets one of its own. Not a pipe to the daemon: a service must
// outlive a daemon that dies, and a pipe whose reader died would break its next write
// (EPIPE). Not a file the service writes itself: then only a poll can rotate it, too late
// under a flood, and a copy-and-truncate loses lines.
//
// A named pipe (.NAME.log.fifo beside the log) rather than a pipe from child_process: the
// stdio pipes libuv makes are socket pairs whose parent end is non-blocking, and a service
// handed that end fails its writes with EAGAIN (Node) or BlockingIOError (Python) as soon
// as its output outruns the log process. A FIFO opened here is an ordinary blocking pipe.
import type {spawn as spawnChild} from 'node:child_process'
import {closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync} from 'node:fs'
import type {Socket} from 'node:net'
import {createRequire} from 'node:module'
import {basename, dirname, join} from 'node:path'
import {StringDecoder} from 'node:string_decoder'
import type {LogSettings} from '../manifest/types.js'
import {packagePath} from '../package-paths.js'
import {processIds} from './proc.js'

const LOG_WRITER = packagePath('libexec', 'qm-log-writer')
// A child of the service that keeps the pipe open keeps the log process alive too; a
// failed start's log tail is read after at most this long.
const LOG_FLUSH_WAIT_MS = 1000
const READ_CHUNK_BYTES = 64 * 1024

/** The time the log process put in front of a line: "2026-12-01T15:50:01.123Z " (no ms without Time::HiRes). */
const LINE_STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z) /

export interface LogLine {
  /** When the log process read it, ISO 8601 UTC; undefined for a line written some other way. */
  at?: string
  text: string
}

export function parseLogLine(line: string): LogLine {
  const stamp = LINE_STAMP.exec(line)
  return stamp ? {at: stamp[1]!, text: line.slice(stamp[0].length)} : {text: line}
}

/** A service's last lines as it printed them, without the times. */
export function serviceLogTail(path: string, count: number): string[] {
  return lastLines(path, count).map((line) => parseLogLine(line).text)
}

export function logPath(stateDir: string, instanceName: string): string {
  return join(stateDir, 'logs', `${instanceName}.log`)
}

export interface LogWriter {
  /** The write end of the pipe, for the service's stdout and stderr. */
  inputFd: number
  /** Which of the service's log pipes (LOG_PIPES) it is. */
  pipe: string
  /** Whether its log process has written everything from this pipe and let go of it (or has ended). */
  released: () => boolean
  /** Closes this process's copy of the write end, once the service has its own (or none will run); idempotent. */
  closeInput(): void
  /** Resolves when the log process has written everything from this pipe and let go of it (or has ended). */
  finished: Promise<void>
  /** `finished`, or waitMs (LOG_FLUSH_WAIT_MS unless given), whichever comes first. */
  done(waitMs?: number): Promise<void>
}

export interface LogTarget {
  /** The log file. */
  path: string
  settings: LogSettings
  /** Names the FIFO among a service's own (logPipePath, ServiceRecord.freeLogPipe); '' when not given. */
  pipe?: string
}

/** Log pipes opened and held, and the log process that is to read them. */
export interface OpenedLogPipes {
  writers: LogWriter[]
  /**
   * Spawns the log process, which takes over the held read ends. Throws, with the pipes'
   * ends here closed, when it cannot be spawned.
   */
  startReading(spawn: typeof spawnChild): void
  /** Closes the pipes' ends here without a log process (nothing will write to them). */
  discard(): void
}

/**
 * One log process for all the targets; their pipes are made first if missing. Throws, with
 * nothing left open, when a pipe cannot be opened or the spawn throws; a spawn that fails
 * later (no such program) ends every writer's `finished`.
 */
export function startLogWriters(targets: readonly LogTarget[], spawn: typeof spawnChild): LogWriter[] {
  const opened = openLogPipes(targets)
  opened.startReading(spawn)
  return opened.writers
}

/**
 * The pipes of the targets, made if missing and open at both ends, before their log
 * process: what a service writes meanwhile waits in the pipe (the held read end keeps it
 * open), so a service may be spawned first.
 */
export function openLogPipes(targets: readonly LogTarget[]): OpenedLogPipes {
  const fifos = targets.map((target) => logPipePath(target.path, target.pipe))
  // Both of a service's pipes at once: a restart may take the other one
  // (ServiceRecord.freeLogPipe), and a mkfifo of its own then would delay it.
  makeLogPipes(targets.flatMap((target) => LOG_PIPES.map((pipe) => logPipePath(target.path, pipe))))
  // Held open for reading and writing, a FIFO lets the write-only open below return at
  // once, and keeps what the service writes before the log process has opened its end.
  const holders: number[] = []
  const inputs: number[] = []
  const closeHolders = () => {
    for (const fd of holders.splice(0)) closeSync(fd)
  }
  try {
    for (const fifo of fifos) {
      holders.push(openSync(fifo, constants.O_RDWR))
      inputs.push(openSync(fifo, constants.O_WRONLY))
    }
  } catch (error) {
    closeHolders()
    for (const fd of inputs) closeSync(fd)
    throw error
  }
  const finished = targets.map(() => {
    let resolve!: () => void
    const promise = new Promise<void>((settle) => (resolve = settle))
    return {promise, resolve}
  })
  const finishAll = () => {
    for (const {resolve} of finished) resolve()
  }
  const writers: LogWriter[] = inputs.map((input, index) => {
    let inputOpen = true
    let released = false
    void finished[index]!.promise.then(() => (released = true))
    return {
      inputFd: input,
      pipe: targets[index]!.pipe ?? '',
      released: () => released,
      // Once only: a second close could hit a descriptor number reused meanwhile.
      closeInput: () => {
        if (inputOpen) closeSync(input)
        inputOpen = false
      },
      finished: finished[index]!.promise,
      done: (waitMs = LOG_FLUSH_WAIT_MS) => Promise.race([finished[index]!.promise, new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref())]),
    }
  })
  const startReading = (spawn: typeof spawnChild) => {
    const args = targets.flatMap((target, index) => [target.path, String(target.settings.maxBytes), String(target.settings.keep), fifos[index]!])
    let writer
    try {
      // Detached: a group of its own, so neither a stop of a service's group nor a
      // terminal's Ctrl-C reaches it; it ends when its last input does. Holder I is its
      // descriptor 3 + I.
      writer = spawn('perl', [LOG_WRITER, ...args], {
        stdio: ['ignore', 'pipe', 'inherit', ...holders],
        detached: true,
      })
    } catch (error) {
      for (const each of writers) each.closeInput()
      finishAll()
      throw error
    } finally {
      closeHolders()
    }
    writer.unref()
    writer.once('exit', finishAll)
    writer.once('error', finishAll)
    // Out of descriptors or processes, Node reports the failure as 'error' on the next tick
    // and makes no stdio: the pipes' ends here are closed, as for a throw.
    if (!writer.stdout) {
      for (const each of writers) each.closeInput()
      return
    }
    // The process writes a pipe's number once it is done with it; nothing else keeps this
    // process waiting for that, so the stream is no reason to stay alive.
    const numbers = writer.stdout as Socket
    numbers.unref()
    let partial = ''
    numbers.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('latin1')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) finished[Number(line)]?.resolve()
    })
    numbers.on('error', () => undefined)
  }
  return {
    writers,
    startReading,
    discard: () => {
      closeHolders()
      for (const each of writers) each.closeInput()
      finishAll()
    },
  }
}

/** A service's two log pipes (logPipePath): '', and the one a second process writes into while the first one's log process still reads the first. */
export const LOG_PIPES: readonly string[] = ['', 'next']

/** Which of the service's pipes (LOG_PIPES) a running process writes its output into, from /proc; undefined for none. */
export function logPipeOfProcess(pid: number, logFile: string): string | undefined {
  let output: string
  try {
    output = readlinkSync(`/proc/${pid}/fd/1`)
  } catch {
    return undefined
  }
  return LOG_PIPES.find((pipe) => logPipePath(logFile, pipe) === output)
}

/**
 * Whether a log process still has the pipe open: all that a daemon knows of the log process
 * a daemon before it started for a process it adopted. It reads /proc, so it is asked only
 * when a launch picks a pipe.
 */
export function logPipeHeld(logFile: string, pipe: string): boolean {
  const fifo = logPipePath(logFile, pipe)
  for (const pid of processIds()) {
    try {
      // By name, not path: the daemon before may have run from another install of qm.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => basename(arg) === basename(LOG_WRITER))) continue
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === fifo) return true
      }
    } catch {
      continue // it ended while it was read
    }
  }
  return false
}

/** The named pipe a service's output goes through to its log process. */
export function logPipePath(logFile: string, pipe = ''): string {
  return join(dirname(logFile), `.${basename(logFile)}${pipe ? `.${pipe}` : ''}.fifo`)
}

/**
 * Makes the pipes that do not exist yet, with one mkfifo for all of them: Node has no
 * mkfifo, and on a host busy starting forty services each process spawned costs tens of ms.
 */
export function makeLogPipes(fifos: readonly string[]): void {
  const missing = fifos.filter((fifo) => !existsSync(fifo))
  if (missing.length === 0) return
  for (const folder of new Set(missing.map((fifo) => dirname(fifo)))) mkdirSync(folder, {recursive: true})
  // Loaded here, where the daemon makes pipes, not by `qm logs` reading them: a few ms of each.
  const {execFileSync} = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')
  execFileSync('mkfifo', ['-m', '600', ...missing])
}

/** The last `count` lines of a file, reading only its tail. */
export function lastLines(path: string, count: number, maxBytes = 256 * 1024): string[] {
  if (count <= 0) return []
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return []
  }
  try {
    const size = fstatSync(fd).size
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    // A read that starts mid-file may begin mid-line: drop the fragment.
    if (length < size) lines.shift()
    return lines.slice(-count)
  } finally {
    closeSync(fd)
  }
}

/**
 * Follows a log file as it grows, as `tail -F` does: when rotation renames it away, what
 * was written to the old file is read to its end before the new file is read from its start;
 * when it is truncated in place, it is read again from its start. Its owner says when to
 * look (followLines: when the kernel tells of a change, and on a timer); a poll that finds
 * nothing new is one stat() and reads nothing.
 */
export class LogFollower {
  private fd: number | undefined
  private inode: number | undefined
  private offset: number
  private partial = ''
  // A character split between two reads is decoded whole on the second.
  private decoder = new StringDecoder('utf8')

  constructor(
    private readonly path: string,
    private readonly onLine: (line: string) => void,
    options: {fromEnd: boolean},
  ) {
    this.offset = options.fromEnd ? sizeOf(path) : 0
  }

  poll(): void {
    // Undefined when not created yet, or renamed away and not made again yet.
    const current = statSync(this.path, {throwIfNoEntry: false})
    if (this.fd !== undefined && current !== undefined && current.ino === this.inode) {
      if (current.size < this.offset) this.restart() // truncated in place (copytruncate)
      // Only what the stat saw: under a flood a poll ends, and the next one goes on.
      if (current.size > this.offset) this.readUpTo(current.size)
      return
    }
    if (this.fd !== undefined) {
      // Rotated: the old file is read to its end, the new one from its start. An unfinished
      // last line stays: the log writer puts the rest of a line that did not fit into the
      // new file.
      this.readUpTo(Number.POSITIVE_INFINITY)
      closeSync(this.fd)
      this.fd = undefined
      this.offset = 0
    }
    if (current !== undefined && this.open()) this.readUpTo(current.size)
  }

  /** Truncated in place: what was written before is gone, an unfinished line with it. */
  private restart(): void {
    this.offset = 0
    this.partial = ''
    this.decoder = new StringDecoder('utf8')
  }

  private open(): boolean {
    try {
      this.fd = openSync(this.path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false // renamed away between the stat and the open
      throw error
    }
    const stat = fstatSync(this.fd)
    this.inode = stat.ino
    if (stat.size < this.offset) this.offset = 0
    return true
  }

  private readUpTo(end: number): void {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
    while (this.offset < end) {
      const read = readSync(this.fd!, buffer, 0, Math.min(buffer.length, end - this.offset), this.offset)
      if (read <= 0) return
      this.offset += read
      const lines = (this.partial + this.decoder.write(buffer.subarray(0, read))).split('\n')
      this.partial = lines.pop() ?? ''
      for (const line of lines) this.onLine(line)
    }
  }

  stop(): void {
    try {
      this.poll()
      if (this.fd !== undefined) this.readUpTo(Number.POSITIVE_INFINITY)
    } finally {
      if (this.fd !== undefined) closeSync(this.fd)
      this.fd = undefined
    }
    const rest = this.partial + this.decoder.end()
    this.partial = ''
    if (rest) this.onLine(rest)
  }
}

/** A file's size; 0 when it does not exist or cannot be looked at yet (each poll tries again and says why). */
function sizeOf(path: string): number {
  try {
    return statSync(path, {throwIfNoEntry: false})?.size ?? 0
  } catch {
    return 0
  }
}
