// Checks made before a process is spawned, so that a service that cannot start is
// refused with the reason instead of being spawned to fail: its folder, its executable,
// and the port it is to listen on.
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, isAbsolute, join, resolve} from 'node:path'
import {QmError} from '../errors.js'
import type {ServiceSpec} from '../manifest/types.js'
import {describePortHolders} from '../net/port-holders.js'
import {readSocketTable} from '../net/socket-table.js'

/** A start refused before spawning. The message is the reason alone; reports put the service name before it. */
export class SpawnRefused extends QmError {
  constructor(
    readonly service: string,
    message: string,
    hint?: string,
    code = 'SPAWN_REFUSED',
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
 * Whether something on this host already holds the port: a listener, or a connection
 * whose local end is the port (a self-connected socket does that). TIME_WAIT entries are
 * left out: services bind with SO_REUSEADDR, which grpc sets, and bind past them.
 */
export function portHolder(port: number): string | undefined {
  const held = readSocketTable().some((socket) => socket.localPort === port && socket.state !== 'TIME_WAIT' && (socket.state === 'LISTEN' || socket.remotePort !== 0))
  return held ? describePortHolders(port) : undefined
}

export function assertPortFree(name: string, port: number): void {
  const holder = portHolder(port)
  if (holder !== undefined) {
    throw new SpawnRefused(name, `port ${port} is already in use: ${holder}`, 'stop that process, or give this service another port (qm unregister, then port: auto)', 'PORT_IN_USE')
  }
}
