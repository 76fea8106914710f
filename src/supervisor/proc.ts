// What the kernel says about a process: its start time (to tell a living service from
// a new process that got a recycled pid), whether its group still has members, and
// its CPU time and resident memory. Linux /proc only.
import {readdirSync, readFileSync, readlinkSync, realpathSync} from 'node:fs'

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ, fixed at 100 on every Linux ABI
const PAGE_BYTES = 4096

interface StatFields {
  state: string
  pgrp: number
  utimeTicks: number
  stimeTicks: number
  startTicks: number
  rssPages: number
}

function readStat(pid: number): StatFields | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined // no such process
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return {
    state: fields[0]!,
    pgrp: Number(fields[2]),
    utimeTicks: Number(fields[11]),
    stimeTicks: Number(fields[12]),
    startTicks: Number(fields[19]),
    rssPages: Number(fields[21]),
  }
}

/** Ticks since boot at which the process started; undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  const stat = readStat(pid)
  return stat && stat.state !== 'Z' ? stat.startTicks : undefined
}

/** The process group the process is in; undefined when it does not exist. */
export function processGroupOf(pid: number): number | undefined {
  const stat = readStat(pid)
  return stat && stat.state !== 'Z' ? stat.pgrp : undefined
}

/** The same process as recorded: alive, not a zombie, and started at the recorded tick. */
export function isSameProcess(pid: number, startTime: number): boolean {
  return processStartTime(pid) === startTime
}

/** Whether any process is left in the group (signal 0 to -pgid tests without sending). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface UsageSample {
  cpuSeconds: number
  rssBytes: number
  atMs: number
}

export function sampleUsage(pid: number, nowMs: number): UsageSample | undefined {
  const stat = readStat(pid)
  if (!stat) return undefined
  return {cpuSeconds: (stat.utimeTicks + stat.stimeTicks) / CLOCK_TICKS_PER_SECOND, rssBytes: stat.rssPages * PAGE_BYTES, atMs: nowMs}
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(earlier: UsageSample, later: UsageSample): number {
  const elapsedSeconds = (later.atMs - earlier.atMs) / 1000
  if (elapsedSeconds <= 0) return 0
  return Math.max(0, ((later.cpuSeconds - earlier.cpuSeconds) / elapsedSeconds) * 100)
}

/** The ids of the processes /proc shows now. */
export function processIds(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
}

/**
 * A process group leader that runs with exactly these arguments (after its program, which
 * a script's #! line may have replaced) in this folder, started at or after `sinceMs`: a
 * service spawned by a daemon that died before it could record the pid.
 */
export function findSpawnedLeader(args: readonly string[], cwd: string, sinceMs: number, bootMs: number): {pid: number; startTime: number} | undefined {
  let folder: string
  try {
    folder = realpathSync(cwd) // the kernel shows a process's folder with its links resolved
  } catch {
    return undefined
  }
  for (const pid of processIds()) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (argv.at(-1) === '') argv.pop()
      const tail = argv.slice(argv.length - args.length)
      if (argv.length <= args.length || tail.some((arg, i) => arg !== args[i])) continue
      const stat = readStat(pid)
      if (!stat || stat.state === 'Z' || stat.pgrp !== pid) continue
      // Start ticks are coarse (10 ms): a process started within that of the record counts.
      if (startTimeToEpochMs(stat.startTicks, bootMs) < sinceMs - 20) continue
      if (readlinkSync(`/proc/${pid}/cwd`) !== folder) continue
      return {pid, startTime: stat.startTicks}
    } catch {
      continue // ended while we looked, or not ours to read
    }
  }
  return undefined
}

/** Seconds since boot, to turn start ticks into a wall-clock start. */
export function bootTimeMs(): number {
  const uptimeSeconds = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0])
  return Date.now() - uptimeSeconds * 1000
}

export function startTimeToEpochMs(startTicks: number, bootMs: number): number {
  return bootMs + (startTicks / CLOCK_TICKS_PER_SECOND) * 1000
}
