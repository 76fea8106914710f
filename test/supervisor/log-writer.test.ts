// The log process that the services of one start share (libexec/qm-log-writer with several
// pipes): each pipe's lines go to its own file, behind their times; a pipe's end is told
// on its own while the others go on; one log that cannot be written loses only its lines.
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {logPipePath, openLogPipes, startLogWriters, type LogWriter} from '../../src/supervisor/log-files.js'
import {isAlive, logWriters, waitFor} from '../helpers/project.js'

const settings = {maxBytes: 1024 * 1024, keep: 2}
const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z /

let dir: string
let started: number[] = []

afterEach(() => {
  for (const pid of [...started, ...logWriters(dir)]) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  started = []
  rmSync(dir, {recursive: true, force: true})
})

/** A process that prints `text` through the writer's pipe, then holds it open until its stdin closes when `hold`. */
function writeThrough(writer: LogWriter, text: string, hold = false) {
  const child = spawn('sh', ['-c', hold ? `printf '${text}'; cat >/dev/null` : `printf '${text}'`], {stdio: [hold ? 'pipe' : 'ignore', writer.inputFd, writer.inputFd]})
  writer.closeInput()
  started.push(child.pid!)
  return child
}

// `finished` has no time bound: a pipe whose end were never told would hang the test.
function ended(writer: LogWriter): Promise<'done'> {
  return writer.finished.then(() => 'done' as const)
}

describe('one log process for the services of a start', () => {
  it('writes each pipe to its own file behind the time, tells each pipe\'s end on its own, and exits after the last', async () => {
    dir = mkdtempSync(join(tmpdir(), 'qm-log-writer-'))
    const paths = ['a', 'b', 'c'].map((name) => join(dir, `${name}.log`))
    const writers = startLogWriters(paths.map((path) => ({path, settings})), spawn)
    expect(writers).toHaveLength(3)
    const [process0] = await waitFor(() => (logWriters(dir).length > 0 ? logWriters(dir) : undefined), 'the log process')
    expect(logWriters(dir)).toHaveLength(1)

    writeThrough(writers[0]!, 'one\\ntwo\\n')
    const holding = writeThrough(writers[1]!, 'held\\n', true)
    writeThrough(writers[2]!, 'last line without an end')

    // a and c have ended: each is told while b still writes, and the process serves b on.
    await expect(ended(writers[0]!)).resolves.toBe('done')
    await expect(ended(writers[2]!)).resolves.toBe('done')
    expect(readFileSync(paths[0]!, 'utf8').split('\n')).toEqual([expect.stringMatching(STAMPED), expect.stringMatching(STAMPED), ''])
    expect(readFileSync(paths[0]!, 'utf8')).toMatch(/Z one\n.*Z two\n$/)
    expect(readFileSync(paths[2]!, 'utf8')).toMatch(/^\S+Z last line without an end$/)
    expect(isAlive(process0!)).toBe(true)
    await waitFor(() => readFileSync(paths[1]!, 'utf8').endsWith(' held\n') || undefined, "b's line")

    holding.stdin!.end()
    await expect(ended(writers[1]!)).resolves.toBe('done')
    await waitFor(() => !isAlive(process0!) || undefined, 'the log process to exit after its last pipe')
  })

  it('loses only the lines of a log it cannot open: the other logs are written, and the service with no log is not stopped by its pipe', async () => {
    dir = mkdtempSync(join(tmpdir(), 'qm-log-writer-'))
    const good = join(dir, 'good.log')
    const blocked = join(dir, 'blocked.log')
    mkdirSync(blocked) // a folder where the file would be
    const [toGood, toBlocked] = startLogWriters([{path: good, settings}, {path: blocked, settings}], spawn)
    const lines = Array.from({length: 2000}, (_, i) => `line ${i}`).join('\\n')
    const refused = writeThrough(toBlocked!, `${lines}\\n`)
    const code = new Promise<number | null>((resolve) => refused.once('exit', (exitCode) => resolve(exitCode)))
    writeThrough(toGood!, 'fine\\n')
    // More than a pipe holds goes through without an error: it is read, and dropped.
    await expect(code).resolves.toBe(0)
    await expect(ended(toGood!)).resolves.toBe('done')
    expect(readFileSync(good, 'utf8')).toMatch(/Z fine\n$/)
  })

  it('reads a pipe whose path was removed after qm opened it: the log process takes it over through the open descriptor', async () => {
    dir = mkdtempSync(join(tmpdir(), 'qm-log-writer-'))
    const path = join(dir, 'gone.log')
    const opened = openLogPipes([{path, settings}])
    unlinkSync(logPipePath(path))
    opened.startReading(spawn)
    const [writer] = opened.writers
    writeThrough(writer!, 'still here\\n')
    await expect(ended(writer!)).resolves.toBe('done')
    expect(readFileSync(path, 'utf8')).toMatch(/Z still here\n$/)
  })
})
