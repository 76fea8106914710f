// The service state machine: the one list of allowed moves, the one set of states in
// which a process may be alive, and what a state change and a start report. The README
// shows the same table; edges marked "operator" happen only when someone runs a command.
import {QmError} from '../errors.js'
import type {ProbeResult} from '../grpc/types.js'
import type {ExitInfo} from './spawn.js'

export type ServiceState = 'stopped' | 'starting' | 'running' | 'unhealthy' | 'backoff' | 'draining' | 'stopping' | 'exited' | 'fatal'

export const ALLOWED: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  stopped: ['starting'], //                     operator: qm start (or a new daemon adopting a living process)
  starting: ['running', 'backoff', 'stopping'], // healthy in time · failed start · operator stop
  running: ['unhealthy', 'exited', 'draining', 'stopping'], // a failed probe · the process ended · a stop that drains · stop or restart
  unhealthy: ['running', 'exited', 'draining', 'stopping'], // probe passes again · ended · a stop that drains · failure_threshold reached, or stop
  backoff: ['starting', 'fatal', 'stopped'], //  delay over · too many failures · operator stop
  draining: ['stopping'], //                     no client left, or drain_delay over (the row went inactive first)
  stopping: ['stopped', 'starting'], //          group gone · restart
  exited: ['starting', 'backoff', 'fatal', 'stopped'], // restart at once · later · too many · policy says no
  fatal: ['starting', 'stopped'], //             operator: qm start · qm stop
}

export class IllegalTransition extends QmError {
  constructor(name: string, from: ServiceState, to: ServiceState) {
    super(`${name}: no move from ${from} to ${to}`, 1, 'ILLEGAL_TRANSITION')
  }
}

export function canMove(from: ServiceState, to: ServiceState): boolean {
  return ALLOWED[from].includes(to)
}

/** States in which a process of the service may be alive. */
export const LIVE_STATES: ReadonlySet<ServiceState> = new Set(['starting', 'running', 'unhealthy', 'draining', 'stopping'])

/** Whether a start would have nothing to do: the process is there, or on its way. */
export function isUp(state: ServiceState): boolean {
  return state === 'starting' || state === 'running' || state === 'unhealthy'
}

/** What a start, stop or restart will touch, sent before it begins: the instances in order, and what each waits for. */
export interface Plan {
  instances: string[]
  /** For a start, each instance's depends_on; empty otherwise. */
  waitingFor: Record<string, string[]>
}

export interface Transition {
  name: string
  from: ServiceState
  to: ServiceState
  cause: string
  atMs: number
  /** The service the instance belongs to, and its process at the move (absent when none). */
  service?: string
  pid?: number
}

/** One probe's answer, as `qm events` shows it: liveness, and the first answer of a start. */
export interface ProbeEvent {
  name: string
  service: string
  atMs: number
  pid?: number
  status: ProbeResult['status']
  latencyMs: number
  method: ProbeResult['method']
  reason?: string
  version?: string
}

export interface AttemptResult {
  name: string
  ok: boolean
  state: ServiceState
  /** Why it did not become healthy. */
  reason?: string
  hint?: string
  /** The service's last log lines, on failure. */
  logTail?: string[]
  probe?: ProbeResult
  pid?: number
  port?: number
  /** From spawn to the first SERVING answer, for a start that launched a process. */
  healthyAfterMs?: number
}

export interface InstanceStatus {
  name: string
  service: string
  state: ServiceState
  pid: number | null
  port: number | null
  health: {status: ProbeResult['status']; latencyMs: number; reason?: string; method: ProbeResult['method']; cause?: ProbeResult['cause']} | null
  version: string | null
  expectedVersion: string | null
  uptimeMs: number | null
  restarts: number
  cpuPercent: number | null
  memoryBytes: number | null
  lastExit: ExitInfo | null
  detail: string | null
  /** While draining: the most it still waits for clients before SIGTERM. */
  drainLeftMs: number | null
  /** The service's last log line, for one that is not running because it failed. */
  lastLogLine: string | null
}

export interface StopResult {
  name: string
  state: string
}

/** What bringing the running set in line with an edited manifest did. */
export interface ReloadReport {
  added: string[]
  removed: string[]
  restarted: string[]
  unchanged: string[]
  /** Changed, and left running with the old settings for a rollout to replace (qm rollout's own reload). */
  kept?: string[]
}

/** The steps of one instance's rollout, in the order they come. */
export type RolloutStep =
  | 'reserved' //    a spare port, held by an inactive row of its own
  | 'spawned' //     the new process, on the spare port
  | 'healthy' //     its first SERVING answer over mTLS
  | 'version' //     the version in its metadata is the expected one
  | 'call' //        one real Call ended with an end-of-stream frame
  | 'switched' //    the service's row now names the new port (same id, same name)
  | 'draining' //    the old process: no new lookups find it; its clients finish
  | 'old-stopped' // SIGTERM, SIGKILL after stop_timeout, its port closed
  | 'refused' //     a gate failed: the new process is gone, the old serves on, the row untouched
  | 'rolled-back' // the new process died soon after the switch: the row is back on the old port
  | 'in-place' //    a fixed port (with --allow-downtime): a drained stop, then a start
  | 'start' //       nothing served: a plain start

export interface RolloutPhase {
  name: string
  step: RolloutStep
  detail: string
  atMs: number
}

export interface RolloutResult {
  name: string
  ok: boolean
  /** swap: a second process and the row moved; in-place: a drained restart on a fixed port; start: nothing served before. */
  way: 'swap' | 'in-place' | 'start' | 'none'
  fromPort?: number
  toPort?: number
  pid?: number
  /** From the new process's spawn to its first SERVING answer. */
  healthyAfterMs?: number
  reason?: string
  hint?: string
  /** The new process's last log lines, when it failed. */
  logTail?: string[]
}
