// Each service writes its stdout and stderr straight into .qm/logs/NAME.log through a
// file descriptor it inherits, not through a pipe to the daemon: a service must outlive
// a daemon that dies, and a pipe whose reader died would break its next write (EPIPE).
// Rotation therefore copies the file aside and truncates it in place, as logrotate's
// copytruncate does; the service's O_APPEND descriptor then writes from the start again.
import {closeSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync, fstatSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {LogSettings} from '../manifest/types.js'

export function logPath(stateDir: string, instanceName: string): string {
  return join(stateDir, 'logs', `${instanceName}.log`)
}

/** A descriptor the child inherits; the caller closes its own copy once the child runs. */
export function openLogForChild(path: string): number {
  mkdirSync(dirname(path), {recursive: true})
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o640)
}

/** Rotates when the file has reached maxBytes; returns whether it did. */
export function rotateIfNeeded(path: string, settings: LogSettings): boolean {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return false // not written yet
  }
  if (size < settings.maxBytes) return false
  if (settings.keep === 0) {
    truncateSync(path, 0)
    return true
  }
  rmSync(`${path}.${settings.keep}`, {force: true})
  for (let i = settings.keep - 1; i >= 1; i--) {
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`)
  }
  copyFileSync(path, `${path}.1`)
  truncateSync(path, 0)
  return true
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
 * Follows a log file as it grows, and from its start again when rotation truncates it.
 * Polls: fs.watch misses writes through another process's descriptor on some filesystems.
 */
export class LogFollower {
  private offset: number
  private partial = ''
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly path: string,
    private readonly onLine: (line: string) => void,
    options: {fromEnd: boolean},
  ) {
    this.offset = options.fromEnd && existsSync(path) ? statSync(path).size : 0
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => this.poll(), intervalMs)
    this.poll()
  }

  poll(): void {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch {
      return // not created yet
    }
    try {
      const size = fstatSync(fd).size
      if (size < this.offset) {
        this.offset = 0 // truncated by rotation
        this.partial = ''
      }
      const buffer = Buffer.alloc(64 * 1024)
      while (this.offset < size) {
        const read = readSync(fd, buffer, 0, Math.min(buffer.length, size - this.offset), this.offset)
        if (read <= 0) break
        this.offset += read
        const text = this.partial + buffer.toString('utf8', 0, read)
        const lines = text.split('\n')
        this.partial = lines.pop() ?? ''
        for (const line of lines) this.onLine(line)
      }
    } finally {
      closeSync(fd)
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.poll()
    if (this.partial) this.onLine(this.partial)
    this.partial = ''
  }
}
