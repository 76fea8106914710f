// Where a manifest's daemon listens and keeps its pid and lock. The socket lives in
// .qm/ unless that path is longer than a Unix socket address may be (108 bytes on
// Linux); then it moves to a short name under the runtime folder, derived from the
// state folder so that the CLI finds it again.
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {sha256Hex} from '../sha256-hex.js'

const MAX_SOCKET_PATH_BYTES = 100

/** Starts the daemon log line that carries a start-up refusal, as JSON, to the CLI that started it. */
export const DAEMON_REFUSED = 'daemon refused to start:'

export interface DaemonPaths {
  socket: string
  pidFile: string
  lockFile: string
  logFile: string
  /** The is_active changes the last daemon could not write before it stopped (unwritten-changes.ts). */
  unwrittenFile: string
}

export function daemonPaths(stateDir: string, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  let socket = join(stateDir, 'qm.sock')
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    const digest = sha256Hex(stateDir, 16)
    socket = join(env.XDG_RUNTIME_DIR || tmpdir(), `qm-${userInfo().uid}-${digest}.sock`)
  }
  return {socket, pidFile: join(stateDir, 'daemon.pid'), lockFile: join(stateDir, 'daemon.lock'), logFile: join(stateDir, 'daemon.log'), unwrittenFile: join(stateDir, 'registry-unwritten.json')}
}
