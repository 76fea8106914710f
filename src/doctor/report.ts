// What `qm doctor` reports: one line per check of the host or the project, each OK, WARN
// or FAIL with what was found and, when something is wrong, what to do about it.
import {isAbsolute, relative} from 'node:path'

export type CheckStatus = 'OK' | 'WARN' | 'FAIL'

export interface DoctorCheck {
  /** A stable word: reserved-ports, foreign-ports, registry-ports, daemon-files, open-files, certificates, executables, registry. */
  name: string
  status: CheckStatus
  message: string
  /** What to do; one action per line. Absent when the check passed. */
  fix?: string
}

export interface DoctorReport {
  checks: DoctorCheck[]
}

export function check(name: string, status: CheckStatus, message: string, fix?: string): DoctorCheck {
  return {name, status, message, ...(fix && status !== 'OK' ? {fix} : {})}
}

/** The worst status of several findings. */
export function worst(statuses: readonly CheckStatus[]): CheckStatus {
  if (statuses.includes('FAIL')) return 'FAIL'
  if (statuses.includes('WARN')) return 'WARN'
  return 'OK'
}

/** A path as a message shows it: relative to the manifest's folder when inside it. */
export function displayPath(dir: string, file: string): string {
  const rel = relative(dir, file)
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel
}
