// Checks made before a process is spawned, so that a service that cannot start is
// refused with the reason instead of being spawned to fail: its folder, its executable,
// and the port it is to listen on.
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, isAbsolute, join, resolve} from 'node:path'
import {QmError, type ErrorCode} from '../errors.js'
import type {ServiceSpec} from '../manifest/types.js'
import {explainPortHolders, findHoldersOfPorts, findPortHolders, isLiveHolder, isSelfConnected, type PortHolding} from '../net/port-holders.js'
import type {TcpSocket} from '../net/socket-table.js'
import {reserveCommandIfExposed, type PortSpan} from '../net/port-sysctls.js'

/** A start refused before spawning. The message is the reason alone; reports put the service name before it. */
export class SpawnRefused extends QmError {
  constructor(
    readonly service: string,
    message: string,
    hint?: string,
    code: ErrorCode = 'SPAWN_REFUSED',
  ) {
    super(message, 1, code, hint)
  }
}

/** The executable's absolute path, or a refusal naming what is wrong with it. */
export function resolveExecutable(name: string, service: ServiceSpec, env: NodeJS.ProcessEnv): string {
  let cwdStat
  try {
    cwdStat = statSync(service.cwd)
  } catch {
    throw new SpawnRefused(name, `working folder ${service.cwd} does not exist`, 'fix cwd in the manifest')
  }
  if (!cwdStat.isDirectory()) throw new SpawnRefused(name, `working folder ${service.cwd} is not a folder`, 'fix cwd in the manifest')

  const program = service.command[0]!
  if (program.includes('/')) {
    const path = isAbsolute(program) ? program : resolve(service.cwd, program)
    checkRunnable(name, path)
    return path
  }
  const searchPath = service.env.PATH ?? env.PATH ?? ''
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue
    const path = join(dir, program)
    try {
      if (statSync(path).isFile()) {
        checkRunnable(name, path)
        return path
      }
    } catch {
      continue // not in this folder of PATH
    }
  }
  throw new SpawnRefused(name, `executable "${program}" not found on PATH`, 'install it, or give its absolute path in command')
}

function checkRunnable(name: string, path: string): void {
  let stat
  try {
    stat = statSync(path)
  } catch {
    throw new SpawnRefused(name, `executable ${path} does not exist`, 'fix command in the manifest')
  }
  if (!stat.isFile()) throw new SpawnRefused(name, `${path} is not a file`, 'fix command in the manifest')
  try {
    accessSync(path, constants.X_OK)
  } catch {
    throw new SpawnRefused(name, `${path} is not executable (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`, `chmod +x ${path}, or start it through its interpreter`)
  }
}

/**
 * What holds the port on this host: a listener, or a connection a process owns whose local
 * end is the port (a self-connected socket does that). TIME_WAIT entries and connections
 * no process owns any more are left out: services bind with SO_REUSEADDR (grpc sets it),
 * which binds past those unless the socket that left them lacked it; bindFailure explains
 * that case once a bind has failed. `range` adds the reservation advice when the manifest's
 * range is not reserved.
 */
export function portHolding(port: number, range?: PortSpan, sockets?: readonly TcpSocket[]): PortHolding | undefined {
  const holders = sockets === undefined ? findPortHolders(port) : (findHoldersOfPorts((p) => p === port, sockets).get(port) ?? [])
  const live = holders.filter(isLiveHolder)
  // The advice reads two sysctls: only for a port that is held.
  return live.length === 0 ? undefined : explainPortHolders(port, live, reserveAdvice(range))
}

/** What holds the port, as one sentence, or undefined when nothing does. */
export function portHolder(port: number): string | undefined {
  return portHolding(port)?.what
}

/**
 * Refuses a port something holds. `fixed`: the manifest names the port; `registered`: the
 * registry keeps a row for it after this refusal. Both decide how to give it another port.
 */
export function assertPortFree(name: string, port: number, options: {range?: PortSpan; fixed?: boolean; registered?: boolean; sockets?: readonly TcpSocket[]} = {}): void {
  const holding = portHolding(port, options.range, options.sockets)
  if (holding === undefined) return
  const unregister = `run "qm unregister ${name}"`
  const elsewhere = !options.fixed
    ? `${unregister} so that its next start takes a free port`
    : `give ${name} another port in the manifest (port: auto takes a free one)${options.registered ? ` and ${unregister}` : ''}`
  throw new SpawnRefused(name, `port ${port} is already in use: ${holding.what}`, `${holding.fix}; or ${elsewhere}`, 'PORT_IN_USE')
}

/** Log lines of a bind that failed: grpc-js, grpcio, Node and most runtimes print one of these. */
const BIND_FAILURE = /EADDRINUSE|address already in use|failed to bind|cannot bind|could not bind|unable to bind/i

/**
 * Why a service that exited during its start may have failed to bind, from what holds its
 * port now. A live holder is named whatever the log says. A TIME_WAIT (or a closing
 * connection no process owns) is named only when the log shows a failed bind or the socket
 * connected to itself: a service that restarts leaves TIME_WAITs of its own on the port,
 * which its next bind passes.
 */
export function bindFailure(port: number, logTail: readonly string[], range?: PortSpan): PortHolding | undefined {
  const holders = findPortHolders(port)
  const live = holders.filter(isLiveHolder)
  if (live.length > 0) return explainPortHolders(port, live, reserveAdvice(range))
  const bindFailed = logTail.some((line) => BIND_FAILURE.test(line))
  const closing = holders.filter((holder) => holder.state !== 'LISTEN' && (bindFailed || isSelfConnected(holder.socket)))
  return explainPortHolders(port, closing, reserveAdvice(range))
}

function reserveAdvice(range: PortSpan | undefined): {reserve?: string} {
  const reserve = range === undefined ? undefined : reserveCommandIfExposed(range)
  return reserve ? {reserve} : {}
}
