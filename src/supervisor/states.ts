// The service state machine: the one list of allowed moves. The README shows the
// same table; edges marked "operator" happen only when someone runs a command.
import {QmError} from '../errors.js'

export type ServiceState = 'stopped' | 'starting' | 'running' | 'unhealthy' | 'backoff' | 'stopping' | 'exited' | 'fatal'

export const ALLOWED: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  stopped: ['starting'], //                     operator: qm start
  starting: ['running', 'backoff', 'stopping'], // healthy in time · failed start · operator stop
  running: ['unhealthy', 'exited', 'stopping'], // a failed probe · the process ended · stop or restart
  unhealthy: ['running', 'exited', 'stopping'], // probe passes again · ended · failure_threshold reached, or stop
  backoff: ['starting', 'fatal', 'stopped'], //  delay over · too many failures · operator stop
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
export const LIVE_STATES: ReadonlySet<ServiceState> = new Set(['starting', 'running', 'unhealthy', 'stopping'])
