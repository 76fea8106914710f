// The open-files limit (RLIMIT_NOFILE) against what the daemon needs for the services it
// runs. The daemon inherits the limit of the shell that ran `qm start`, and each service
// inherits the daemon's, so a running daemon's own limit is the one that counts.
import {readFileSync} from 'node:fs'
import {check, type DoctorCheck} from './report.js'

/**
 * Measured on a daemon running 1 and then 10 guide services: 28 descriptors of its own
 * (SQLite files of the registry, records and lock with their WAL and shm, the log, the
 * control socket, Node's event loop and pipes) and one more per service (its kept probe
 * connection). The budget adds room for control clients to the first, and per service
 * allows what a start or restart holds at once: the kept connection, a second one while
 * the old channel closes, the log file while spawning, and the two of a log rotation.
 */
export const DAEMON_OWN_DESCRIPTORS = 32
export const DESCRIPTORS_PER_SERVICE = 5
/** The fleet the platform runs per host (the peers were measured with the same 40). */
export const FLEET_SERVICES = 40

export interface OpenFilesLimit {
  soft: number
  hard: number
}

/** From /proc/PID/limits; Infinity for "unlimited". */
export function readOpenFilesLimit(pid: number | 'self' = 'self'): OpenFilesLimit {
  const text = readFileSync(`/proc/${pid}/limits`, 'latin1')
  const line = text.split('\n').find((l) => l.startsWith('Max open files'))
  const [soft, hard] = (line ?? '').slice('Max open files'.length).trim().split(/\s+/)
  const parse = (value: string | undefined) => (value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value ?? Number.NaN))
  const limit = {soft: parse(soft), hard: parse(hard)}
  if (!line || Number.isNaN(limit.soft) || Number.isNaN(limit.hard)) throw new Error(`/proc/${pid}/limits has no "Max open files" line`)
  return limit
}

/**
 * The limit against what the port range would need with every port served (capacity, 40 by
 * default), since services are added to a running daemon; the manifest's own count is said too.
 */
export function checkOpenFiles(instances: number, daemonPid: number | undefined, read: (pid: number | 'self') => OpenFilesLimit = readOpenFilesLimit, capacity = FLEET_SERVICES): DoctorCheck {
  const services = Math.max(capacity, instances)
  const needed = DAEMON_OWN_DESCRIPTORS + DESCRIPTORS_PER_SERVICE * services
  const whose = daemonPid === undefined ? 'this shell (a daemon started from it inherits it)' : `the running daemon, pid ${daemonPid}`
  let limit: OpenFilesLimit
  try {
    limit = read(daemonPid ?? 'self')
  } catch (error) {
    return check('open-files', 'WARN', `cannot read the open-files limit of ${whose}: ${(error as Error).message}`)
  }
  const format = (n: number) => (Number.isFinite(n) ? String(n) : 'unlimited')
  const counted = services === instances ? `this manifest's ${instances} service instances` : `${services} services (every port of port_range served; this manifest has ${instances})`
  const why = `${counted} need about ${needed}: ${DAEMON_OWN_DESCRIPTORS} of the daemon's own and ${DESCRIPTORS_PER_SERVICE} per service (probe connections, log pipe, log process)`
  const found = `open files: soft limit ${format(limit.soft)}, hard ${format(limit.hard)}, of ${whose}; ${why}`
  if (limit.soft >= 2 * needed) return check('open-files', 'OK', found)
  const target = Math.max(1024, 2 * needed)
  const raise = limit.hard >= target
    ? `ulimit -n ${target} in the shell that runs qm start (the daemon and its services inherit it)`
    : `raise the hard limit to ${target} or more: LimitNOFILE=${target} in a systemd unit, or a nofile line in /etc/security/limits.conf; then ulimit -n ${target}`
  const restart = daemonPid === undefined ? '' : '\nthen qm shutdown --keep-services and qm start, so that the new daemon has it'
  if (limit.soft < needed) return check('open-files', 'FAIL', `${found}: a start of all of them can fail with EMFILE`, `${raise}${restart}`)
  return check('open-files', 'WARN', `${found}: less than twice that leaves little room for bursts`, `${raise}${restart}`)
}
