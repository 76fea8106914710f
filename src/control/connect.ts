// The CLI's way to its manifest's daemon: connect if one listens, otherwise start one
// detached and wait until it answers. Two `qm start` at the same instant may each
// start a daemon; the lock lets one win and the other leaves, and both CLIs connect
// to the winner.
import {spawn} from 'node:child_process'
import {closeSync, mkdirSync, openSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {QmError, qmErrorFromJSON} from '../errors.js'
import type {Manifest} from '../manifest/types.js'
import {lastLines} from '../supervisor/log-files.js'
import {ControlClient} from './client.js'
import {daemonEnvironment} from './daemon-environment.js'
import {DAEMON_NODE_FLAGS} from './daemon-node-flags.js'
import {DAEMON_REFUSED, daemonPaths} from './paths.js'

const DAEMON_ENTRY = fileURLToPath(new URL('../daemon/daemon-main.cjs', import.meta.url))
const DAEMON_START_TIMEOUT_MS = 15_000

export async function connectToDaemon(manifest: Manifest): Promise<ControlClient | undefined> {
  try {
    return await ControlClient.connect(daemonPaths(manifest.stateDir).socket)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined
    throw error
  }
}

export async function connectOrStartDaemon(manifest: Manifest): Promise<{client: ControlClient; started: boolean}> {
  const existing = await connectToDaemon(manifest)
  if (existing) return {client: existing, started: false}
  const paths = daemonPaths(manifest.stateDir)
  mkdirSync(manifest.stateDir, {recursive: true})
  const logFd = openSync(paths.logFile, 'a', 0o640)
  // child_process rather than execa: this runs in the CLI, where every import costs start-up time.
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_ENTRY, manifest.file], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    cwd: manifest.dir,
    env: daemonEnvironment(process.env, manifest.registry),
  })
  closeSync(logFd)
  // A daemon that refuses to start (its registry out of reach) exits 1 at once; its reason
  // is this command's error then, rather than a timeout 15 s later. One that lost the race
  // to another daemon exits 0, and the winner answers.
  let failed = false
  child.once('exit', (code) => {
    failed = code !== 0
  })
  child.unref()
  const deadline = performance.now() + DAEMON_START_TIMEOUT_MS
  for (let pauseMs = 5; performance.now() < deadline; pauseMs = Math.min(50, pauseMs * 2)) {
    const client = await connectToDaemon(manifest)
    if (client) return {client, started: true}
    if (failed) throw daemonRefusal(paths.logFile)
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
  }
  throw new QmError(
    `the qm daemon did not come up within ${DAEMON_START_TIMEOUT_MS / 1000}s`,
    1,
    'DAEMON_START',
    `its log ${paths.logFile} ends with: ${lastLines(paths.logFile, 3).join(' | ') || '(nothing)'}`,
  )
}

function daemonRefusal(logFile: string): QmError {
  const tail = lastLines(logFile, 20)
  const line = tail.findLast((text) => text.includes(DAEMON_REFUSED))
  if (line !== undefined) {
    try {
      return qmErrorFromJSON(JSON.parse(line.slice(line.indexOf(DAEMON_REFUSED) + DAEMON_REFUSED.length)))
    } catch {
      // Not the JSON the daemon writes: fall through to the log's last lines.
    }
  }
  return new QmError('the qm daemon exited as it started', 1, 'DAEMON_START', `its log ${logFile} ends with: ${tail.slice(-3).join(' | ') || '(nothing)'}`)
}
