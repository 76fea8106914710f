// What `qm logs` shows: the last lines of several services merged in the order they were
// written (by the times their log processes put in front of them), optionally only those
// since a moment, and new lines as they come. Reads files; prints nothing.
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

/**
 * Follows every source from its end, all on one timer; returns a function that stops them
 * all, each read to its end first. A log that cannot be read is told to onError once, tried
 * again on every poll, and keeps none of the others from being read.
 */
export function followLines(
  sources: readonly LogSource[],
  onLine: (line: ServiceLogLine) => void,
  {pollMs = 100, onError = () => undefined}: {pollMs?: number; onError?: (name: string, error: Error) => void} = {},
): () => void {
  const followers = sources.map((source) => ({
    name: source.name,
    follower: new LogFollower(source.path, (line) => onLine({name: source.name, ...parseLogLine(line)}), {fromEnd: true}),
    failing: false,
  }))
  const each = (step: (follower: LogFollower) => void) => {
    for (const entry of followers) {
      try {
        step(entry.follower)
        entry.failing = false
      } catch (error) {
        if (!entry.failing) onError(entry.name, error as Error)
        entry.failing = true
      }
    }
  }
  each((follower) => follower.poll())
  const timer = setInterval(() => each((follower) => follower.poll()), pollMs)
  return () => {
    clearInterval(timer)
    each((follower) => follower.stop())
  }
}
