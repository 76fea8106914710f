// The allocation rules, kept free of SQL so both stores share them: the lowest port in
// range that no row of the host holds (active or not) and nothing on the host uses; a
// known name keeps its port; a port asked for by number must be free in both senses.
import {NameTakenError, PortTakenError} from '../errors.js'
import type {Endpoint, RegisterOutcome, RegisterRequest} from './store.js'

export interface PortChoice {
  port?: number
  /** Ports skipped because something outside the registry uses them, with who. */
  skipped: {port: number; holder: string}[]
}

export function pickPort(
  [first, last]: readonly [number, number],
  registered: ReadonlySet<number>,
  portInUse: (port: number) => string | undefined,
): PortChoice {
  const skipped: PortChoice['skipped'] = []
  for (let port = first; port <= last; port++) {
    if (registered.has(port)) continue
    const holder = portInUse(port)
    if (holder === undefined) return {port, skipped}
    skipped.push({port, holder})
  }
  return {skipped}
}

/** A name already registered: its row again, unless the request asks for another port. */
export function reuseExisting(existing: Endpoint, request: RegisterRequest): RegisterOutcome {
  if (request.port !== undefined && request.port !== existing.port) {
    throw new NameTakenError(
      `${request.name} is already registered on port ${existing.port} (host ${request.host})`,
      `run "qm unregister ${request.name}" first to move it to port ${request.port}`,
    )
  }
  return {endpoint: existing, created: false}
}

/** A port asked for by number: refused when a row of the host (`rowHolder`) or a process holds it. */
export function claimPort(request: RegisterRequest, port: number, rowHolder: string | undefined): number {
  if (rowHolder !== undefined) {
    throw new PortTakenError(`port ${port} is already registered to ${rowHolder} (host ${request.host})`, 'leave out --port to get the lowest free port')
  }
  const user = request.portInUse(port)
  if (user !== undefined) {
    throw new PortTakenError(`port ${port} is in use on this host: ${user}`, 'stop that process, or leave out --port to get the lowest free port')
  }
  return port
}
