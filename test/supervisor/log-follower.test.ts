// Following a log as `qm logs -f` and `qm up` do: from its end, through the log process's
// renames, with a character that two writes split shown whole. Real files; a LogFollower's
// polls are called by the test, so nothing there depends on a timer; followLines is driven
// by its timer and the kernel's notices, and its tests wait for what they should bring.
import {appendFileSync, mkdirSync, renameSync, symlinkSync, watch as fsWatch, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {LogFollower} from '../../src/supervisor/log-files.js'
import {followLines, type FollowOptions} from '../../src/supervisor/log-view.js'
import {waitFor} from '../helpers/project.js'
import {tempDir} from '../helpers/temp-dir.js'

/** A follower of a new log in a folder of its own, from its end, with the lines it has seen. */
function follow(name: string, content: string | undefined) {
  const log = join(tempDir(), name)
  if (content !== undefined) writeFileSync(log, content)
  const lines: string[] = []
  const follower = new LogFollower(log, (line) => lines.push(line), {fromEnd: true})
  return {log, lines, follower}
}

describe('LogFollower', () => {
  it('starts at the end, reads a rotated file to its end before the new one, and decodes a split character whole', () => {
    const {log, lines, follower} = follow('svc.log', 'written before\n')
    follower.poll()
    expect(lines).toEqual([])

    const accent = Buffer.from('é')
    appendFileSync(log, Buffer.concat([Buffer.from('first\ncaf'), accent.subarray(0, 1)]))
    follower.poll()
    appendFileSync(log, Buffer.concat([accent.subarray(1), Buffer.from('\n')]))
    follower.poll()
    follower.poll() // nothing new: nothing more
    expect(lines).toEqual(['first', 'café'])

    // The log process renames the full log away and writes on into a new one.
    appendFileSync(log, 'last of the old file\n')
    renameSync(log, `${log}.1`)
    writeFileSync(log, 'first of the new file\nunfinished')
    follower.poll()
    expect(lines.slice(2)).toEqual(['last of the old file', 'first of the new file'])

    follower.stop()
    expect(lines.slice(4)).toEqual(['unfinished'])
  })

  it('waits for a log that does not exist yet and reads it from its start', () => {
    const {log, lines, follower} = follow('later.log', undefined)
    follower.poll()
    writeFileSync(log, 'hello\n')
    follower.poll()
    follower.stop()
    expect(lines).toEqual(['hello'])
  })

  it('joins a line the log process split between the old file and the new one', () => {
    const {log, lines, follower} = follow('split.log', '')
    appendFileSync(log, 'the start of a line')
    follower.poll()
    renameSync(log, `${log}.1`)
    writeFileSync(log, ' and its end\n')
    follower.poll()
    follower.stop()
    expect(lines).toEqual(['the start of a line and its end'])
  })

  it('reads a log truncated in place again from its start, dropping the unfinished line of before', () => {
    const {log, lines, follower} = follow('copytruncate.log', '')
    appendFileSync(log, 'a long line before the truncation\nhalf')
    follower.poll()
    writeFileSync(log, 'new\n') // the same file, cut short and written again
    follower.poll()
    follower.stop()
    expect(lines).toEqual(['a long line before the truncation', 'new'])
  })

  it('reads a log renamed away with no new one made to its end, and waits for the new one', () => {
    const {log, lines, follower} = follow('gone.log', '')
    follower.poll()
    appendFileSync(log, 'the last line\n')
    renameSync(log, `${log}.1`)
    follower.poll()
    follower.poll()
    expect(lines).toEqual(['the last line'])
    writeFileSync(log, 'made again\n')
    follower.poll()
    follower.stop()
    expect(lines).toEqual(['the last line', 'made again'])
  })
})

describe('followLines', () => {
  it('follows several logs, each line with its service, until stopped', async () => {
    const dir = tempDir()
    const sources = ['alpha', 'beta'].map((name) => ({name, path: join(dir, `${name}.log`)}))
    for (const source of sources) writeFileSync(source.path, 'old\n')
    const seen: string[] = []
    const stop = followLines(sources, (line) => seen.push(`${line.name}: ${line.text} @${line.at ?? '-'}`), {pollMs: 5})
    try {
      appendFileSync(sources[0]!.path, '2026-12-01T15:50:01.123Z one\n')
      appendFileSync(sources[1]!.path, 'two\n')
      await waitFor(() => seen.length === 2, 'both lines')
    } finally {
      stop()
    }
    expect(seen.sort()).toEqual(['alpha: one @2026-12-01T15:50:01.123Z', 'beta: two @-'])
    // Stopped means stopped: a line written after it never arrives.
    appendFileSync(sources[0]!.path, 'after the stop\n')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(seen).toHaveLength(2)
  })

  it('tells of a log it cannot read once, and goes on reading the others', async () => {
    const dir = tempDir()
    const unreadable = join(dir, 'broken.log')
    symlinkSync(unreadable, unreadable) // a link to itself: every stat() fails with ELOOP
    const readable = join(dir, 'fine.log')
    writeFileSync(readable, '')
    const seen: string[] = []
    const errors: string[] = []
    const stop = followLines(
      [{name: 'broken', path: unreadable}, {name: 'fine', path: readable}],
      (line) => seen.push(`${line.name}: ${line.text}`),
      {pollMs: 5, onError: (name, error) => errors.push(`${name}: ${(error as NodeJS.ErrnoException).code}`)},
    )
    try {
      appendFileSync(readable, 'still read\n')
      await waitFor(() => seen.length === 1, 'the line of the readable log')
      await new Promise((resolve) => setTimeout(resolve, 30)) // several more failing polls
      expect(errors).toEqual(['broken: ELOOP'])
    } finally {
      stop()
    }
    expect(seen).toEqual(['fine: still read'])
  })
})

describe('followLines, told of changes by the kernel', () => {
  /** A stand-in for fs.watch that tells nothing, with whether followLines closed it. */
  function silentWatch() {
    const state = {closed: 0}
    const watch = () => ({close: () => void state.closed++, on: () => undefined})
    return {watch, state}
  }

  /** A new log, `content` in it, followed with `options` while `steps` run; the lines it saw. */
  async function followNewLog(content: string, options: FollowOptions, steps: (path: string, seen: string[]) => Promise<void>): Promise<string[]> {
    const path = join(tempDir(), 'svc.log')
    writeFileSync(path, content)
    const seen: string[] = []
    const stop = followLines([{name: 'svc', path}], (line) => seen.push(line.text), options)
    try {
      await steps(path, seen)
    } finally {
      stop()
    }
    return seen
  }

  it('reads a line when its folder tells of it, without waiting for the timer', async () => {
    const seen = await followNewLog('old\n', {pollMs: 60_000, watchedPollMs: 60_000}, async (path, seen) => {
      appendFileSync(path, 'told\n')
      await waitFor(() => seen.length === 1, 'the line, from the change the kernel told of')
      // The log process renames a full log away and writes on into a new one.
      renameSync(path, `${path}.1`)
      writeFileSync(path, 'in the new file\n')
      await waitFor(() => seen.length === 2, 'the line of the new file')
    })
    expect(seen).toEqual(['told', 'in the new file'])
  })

  it('hands a folder whose changes go untold to the timer, and loses no line', async () => {
    const {watch, state} = silentWatch()
    const seen = await followNewLog('', {pollMs: 5, watchedPollMs: 20, watch}, async (path, seen) => {
      appendFileSync(path, 'found by the timer\n')
      await waitFor(() => state.closed === 1, 'the folder handed to the timer')
      appendFileSync(path, 'read on the timer\n')
      await waitFor(() => seen.length === 2, 'the second line')
    })
    expect(seen).toEqual(['found by the timer', 'read on the timer'])
  })

  it('reads a folder that cannot be watched on the timer', async () => {
    const watch = () => {
      throw Object.assign(new Error('inotify watch limit reached'), {code: 'ENOSPC'})
    }
    const seen = await followNewLog('', {pollMs: 5, watchedPollMs: 60_000, watch}, async (path, seen) => {
      appendFileSync(path, 'polled\n')
      await waitFor(() => seen.length === 1, 'the line')
    })
    expect(seen).toEqual(['polled'])
  })
})

describe('followLines, a folder made after it began', () => {
  it('watches it once it is there, and reads its logs meanwhile on the timer', async () => {
    const parent = tempDir()
    const dir = join(parent, 'logs')
    const path = join(dir, 'svc.log')
    const watched: string[] = []
    const watch = (folder: string, onChange: (file: string | null) => void) => {
      const watcher = fsWatch(folder, {persistent: false}, (_event, file) => onChange(typeof file === 'string' ? file : null))
      watched.push(folder)
      return watcher
    }
    const seen: string[] = []
    const stop = followLines([{name: 'svc', path}], (line) => seen.push(line.text), {pollMs: 5, watchedPollMs: 20, watch})
    try {
      mkdirSync(dir)
      writeFileSync(path, 'first\n')
      await waitFor(() => seen.length === 1 && watched.length === 1, 'the first line, and the folder watched')
      appendFileSync(path, 'second\n')
      await waitFor(() => seen.length === 2, 'the second line')
    } finally {
      stop()
    }
    expect(watched).toEqual([dir])
    expect(seen).toEqual(['first', 'second'])
  })
})
