// What `qm logs` shows: the last lines of several services merged in the order they were
// written (by the times their log processes put in front of them), optionally only those
// since a moment, and new lines as they come. Reads files; prints nothing.
import {watch as fsWatch} from 'node:fs'
import {basename, dirname} from 'node:path'
import {LogFollower, lastLines, parseLogLine} from './log-files.js'

export interface ServiceLogLine {
  name: string
  /** ISO 8601 UTC, when the service wrote it; undefined for a line without a time. */
  at?: string
  text: string
}

export interface LogSource {
  name: string
  path: string
}

/**
 * The last `count` lines of each source (all of them with count undefined), those at or
 * after sinceIso, merged by time. A line without a time keeps its place after the line
 * before it in its own file.
 */
export function recentLines(sources: readonly LogSource[], options: {count?: number; sinceIso?: string}): ServiceLogLine[] {
  const perSource = sources.map((source) => {
    let lines = lastLines(source.path, options.count ?? Number.MAX_SAFE_INTEGER, options.count === undefined ? 64 * 1024 * 1024 : undefined).map((line) => ({
      name: source.name,
      ...parseLogLine(line),
    }))
    if (options.sinceIso !== undefined) lines = lines.filter((line) => line.at !== undefined && line.at >= options.sinceIso!)
    // A line without a time sorts with the one before it.
    let previous = ''
    return lines.map((line) => {
      previous = line.at ?? previous
      return {line, key: previous}
    })
  })
  return perSource
    .flat()
    .map((entry, index) => ({...entry, index}))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index))
    .map((entry) => entry.line)
}

/** What followLines watches a log's folder with: fs.watch, or a stand-in in tests. */
export type FolderWatch = (folder: string, onChange: (file: string | null) => void) => {close(): void; on(event: 'error', listener: (error: Error) => void): unknown}

export interface FollowOptions {
  /** How often a log is read while its folder is not watched, or its changes were not all told (default 100 ms). */
  pollMs?: number
  /** How often a log in a watched folder is read all the same (default 1000 ms): a change the kernel did not tell. */
  watchedPollMs?: number
  onError?: (name: string, error: Error) => void
  watch?: FolderWatch
}

/** After a change is told, how long to wait for more before reading: a burst of writes is one read. */
const CHANGE_DELAY_MS = 10
/** How long a change found by the timer may take to be told before its folder goes back to the timer. */
const LATE_NOTICE_MS = 50

/**
 * Follows every source from its end; returns a function that stops them all, each read to
 * its end first. A log is read when the kernel tells of a change in its folder (inotify,
 * through fs.watch), and on a timer besides: every `watchedPollMs` in a watched folder, in
 * case a change went untold, and every `pollMs` in a folder that cannot be watched. Some
 * filesystems (NFS, FUSE) do not tell of writes made through another process's
 * descriptor; a folder where the timer finds lines no change was told of is read every
 * `pollMs` from then on. Reading forty logs ten times a second, as every log was read
 * before, took `qm up` 1 % of a core with nothing written.
 * A log that cannot be read is told to onError once, tried again on every read, and keeps
 * none of the others from being read.
 */
export function followLines(sources: readonly LogSource[], onLine: (line: ServiceLogLine) => void, options: FollowOptions = {}): () => void {
  const {pollMs = 100, watchedPollMs = 1000, onError = () => undefined, watch = watchFolder} = options
  // `retry`: not watched because the watch could not be made (a folder not made yet, as
  // .qm/logs before a first start): tried again with every watched-folder read.
  const folders = new Map<string, {watched: boolean; retry: boolean; watcher?: ReturnType<FolderWatch>}>()
  const followers = sources.map((source) => {
    const folder = dirname(source.path)
    if (!folders.has(folder)) folders.set(folder, {watched: false, retry: true})
    const entry = {
      name: source.name,
      folder,
      file: basename(source.path),
      follower: new LogFollower(source.path, (line) => {
        entry.linesRead++
        onLine({name: source.name, ...parseLogLine(line)})
      }, {fromEnd: true}),
      failing: false,
      linesRead: 0,
      /** A change was told since the timer last read it. */
      told: false,
      /** A change was told and is not read yet. */
      changed: false,
    }
    return entry
  })
  type Entry = (typeof followers)[number]
  const read = (entry: Entry, step: (follower: LogFollower) => void = (follower) => follower.poll()) => {
    try {
      step(entry.follower)
      entry.failing = false
    } catch (error) {
      if (!entry.failing) onError(entry.name, error as Error)
      entry.failing = true
    }
  }
  let stopped = false
  let changeTimer: NodeJS.Timeout | undefined
  const readChanged = () => {
    changeTimer = undefined
    for (const entry of followers) {
      if (!entry.changed) continue
      entry.changed = false
      read(entry)
    }
  }
  const changeTold = (folder: string, file: string | null) => {
    if (stopped) return
    let followed = false
    for (const entry of followers) {
      if (entry.folder !== folder || (file !== null && file !== entry.file)) continue
      entry.changed = true
      entry.told = true
      followed = true
    }
    // The log processes' pipes and the rotated files are in the folder too.
    if (followed) changeTimer ??= setTimeout(readChanged, CHANGE_DELAY_MS)
  }
  const untold = (folder: string) => {
    const state = folders.get(folder)!
    state.watched = false
    state.retry = false
    state.watcher?.close()
    scheduleTimerRead()
  }
  const watchFolders = () => {
    for (const [folder, state] of folders) {
      if (state.watched || !state.retry) continue
      try {
        state.watcher = watch(folder, (file) => changeTold(folder, file))
        state.watcher.on('error', () => untold(folder))
        state.watched = true
      } catch {
        // Not there yet, or no inotify to be had: the timer reads it meanwhile.
      }
    }
  }
  watchFolders()
  for (const entry of followers) read(entry)
  // One timer: every pollMs while a folder is read on the timer alone, else every
  // watchedPollMs, so that a follower whose folders are all watched wakes once a second.
  let lastWatchedReadMs = performance.now()
  let timer: NodeJS.Timeout | undefined
  const readOnTimer = () => {
    const nowMs = performance.now()
    const watchedRead = nowMs - lastWatchedReadMs >= watchedPollMs - pollMs / 2
    if (watchedRead) lastWatchedReadMs = nowMs
    for (const entry of followers) {
      const watched = folders.get(entry.folder)!.watched
      if (watched && !watchedRead) continue
      const before = entry.linesRead
      read(entry)
      if (!watched) continue
      const found = entry.linesRead > before
      const told = entry.told
      entry.told = false
      // Lines the timer found with no change told: wait a little for a late notice
      // (the write may have come just before this read), then give the folder to the timer.
      if (found && !told) {
        setTimeout(() => {
          if (!stopped && !entry.told) untold(entry.folder)
        }, LATE_NOTICE_MS).unref()
      }
    }
    // After the reads: lines written before a folder was watched were never to be told.
    if (watchedRead) watchFolders()
    scheduleTimerRead()
  }
  const scheduleTimerRead = () => {
    clearTimeout(timer)
    if (stopped) return
    const allWatched = [...folders.values()].every((state) => state.watched)
    timer = setTimeout(readOnTimer, allWatched ? watchedPollMs : pollMs)
  }
  scheduleTimerRead()
  return () => {
    stopped = true
    clearTimeout(timer)
    clearTimeout(changeTimer)
    for (const state of folders.values()) state.watcher?.close()
    for (const entry of followers) read(entry, (follower) => follower.stop())
  }
}

function watchFolder(folder: string, onChange: (file: string | null) => void): ReturnType<FolderWatch> {
  // Not persistent: the timer is what keeps a follower's process alive, and stopping clears it.
  return fsWatch(folder, {persistent: false}, (_event, file) => onChange(typeof file === 'string' ? file : null))
}
