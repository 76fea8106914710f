// The processes the bench starts itself (the floor: services spawned directly, as a
// supervisor would at best) and what the kernel says about them and their ports. The
// socket table is read here independently of qm's own reader, so that a bug there cannot
// make qm's "port closed" look confirmed.
import {spawn} from 'node:child_process'
import {closeSync, openSync, readFileSync, readdirSync, readlinkSync} from 'node:fs'

const LISTEN = '0A'
const TIME_WAIT = '06'

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls check() until it is true; throws with `what` once timeoutMs has passed. */
export async function waitFor(check, {timeoutMs, pauseMs = 5, what}) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(pauseMs)
  }
}

/** [port, state hex] of every TCP socket, IPv4 and IPv6. */
function socketPortsAndStates() {
  const sockets = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text
    try {
      text = readFileSync(file, 'latin1')
    } catch {
      continue // a host without IPv6 has no tcp6 table
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 4) continue
      const local = fields[1]
      sockets.push([Number.parseInt(local.slice(local.indexOf(':') + 1), 16), fields[3]])
    }
  }
  return sockets
}

/** Which of the ports have a listener. */
export function listeningAmong(ports) {
  const wanted = new Set(ports)
  return [...new Set(socketPortsAndStates().filter(([port, state]) => state === LISTEN && wanted.has(port)).map(([port]) => port))]
}

/**
 * Whether no socket but TIME_WAIT uses one of the ports locally. A service killed while a
 * client still holds a connection leaves its side in FIN_WAIT until the client closes, and
 * qm's pre-spawn check rightly refuses a port in that state, so the bench waits this out
 * between a floor run and a qm run on the same ports.
 */
export function portsQuiet(ports) {
  const wanted = new Set(ports)
  return !socketPortsAndStates().some(([port, state]) => wanted.has(port) && state !== TIME_WAIT)
}

/** Fields of /proc/PID/stat after the command name; undefined when the process is gone. */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** Alive and not a zombie: a zombie has already closed its sockets. */
export function isAlive(pid) {
  const fields = statFields(pid)
  return fields !== undefined && fields[0] !== 'Z'
}

export function processGroupOf(pid) {
  const fields = statFields(pid)
  return fields ? Number(fields[2]) : undefined
}

/** User and system CPU time a process has used so far, in clock ticks (1/100 s on Linux). */
export function cpuTicks(pid) {
  const fields = statFields(pid)
  if (!fields) throw new Error(`no process ${pid}`)
  // After the command's ")": state is field 0, utime 11, stime 12.
  return Number(fields[11]) + Number(fields[12])
}

/**
 * The CPU time a process (all its threads) has had, in ms, from the scheduler's own count
 * in /proc/PID/schedstat (nanoseconds, where /proc/PID/stat counts 10 ms ticks); undefined
 * once it is gone.
 */
export function cpuTimeMs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    return undefined
  }
}

export function residentBytes(pid) {
  return residentParts(pid).residentBytes
}

/**
 * Resident memory and its two parts, from one read: pages of files (the interpreter's binary
 * and its libraries, which every process of that interpreter maps) and anonymous pages
 * (heaps, stacks).
 */
export function residentParts(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const bytesOf = (field) => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`)
    return Number(match[1]) * 1024
  }
  return {residentBytes: bytesOf('VmRSS'), fileBytes: bytesOf('RssFile'), anonymousBytes: bytesOf('RssAnon')}
}

/** Signals a whole process group; a group that is already gone is what we wanted. */
export function killGroup(pgid, signal = 'SIGKILL') {
  try {
    process.kill(-pgid, signal)
  } catch (error) {
    if (error.code !== 'ESRCH') throw error
  }
}

/**
 * Spawns one service as qm would: the argv, the six standard arguments, its own process
 * group, output into a log file through an inherited descriptor.
 */
export function spawnService({command, port, certs, cwd, logFile}) {
  const [executable, ...rest] = command
  const args = [
    ...rest,
    '--port', String(port),
    '--ca-cert', certs.ca,
    '--server-cert', certs.serverCert,
    '--server-key', certs.serverKey,
    '--max-workers', '10',
    '--log-level', 'INFO',
  ]
  const logFd = openSync(logFile, 'a')
  try {
    const child = spawn(executable, args, {cwd, detached: true, stdio: ['ignore', logFd, logFd]})
    // A failed spawn shows as a service that never answers, which the wait reports; without
    // a listener node would also throw the 'error' event at top level.
    child.on('error', () => {})
    return child
  } finally {
    closeSync(logFd)
  }
}

/**
 * Every process whose working folder or command line lies inside `dir`: the daemon, the
 * services (both run in the temp project folder) and the CLI runs started there. Used by
 * the cleanup to find anything left, however the run ended.
 */
export function processesInside(dir) {
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    let cwd = ''
    let cmdline = ''
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`)
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ')
    } catch {
      continue // it ended while we looked
    }
    if ((cwd === dir || cwd.startsWith(`${dir}/`) || cmdline.includes(dir)) && isAlive(pid)) found.push(pid)
  }
  return found
}

/** SIGKILL to each process's group when it leads one of its own, else to the process alone. */
export function killProcesses(pids) {
  const ownGroup = processGroupOf(process.pid)
  for (const pid of pids) {
    const pgid = processGroupOf(pid)
    if (pgid === undefined) continue
    try {
      if (pgid === pid && pgid !== ownGroup) process.kill(-pgid, 'SIGKILL')
      else process.kill(pid, 'SIGKILL')
    } catch (error) {
      if (error.code !== 'ESRCH') throw error
    }
  }
}
