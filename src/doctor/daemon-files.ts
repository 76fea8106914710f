// The daemon's pid file and control socket against what runs: a pid file whose process is
// gone, or is some other program that got the pid; a socket file nobody listens on; a
// daemon alive that no longer answers. The lock (daemon.lock) needs no check: the kernel
// drops it with the process.
import {lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {ControlClient} from '../control/client.js'
import {daemonPaths} from '../control/paths.js'
import type {Manifest} from '../manifest/types.js'
import {commandLine} from '../net/port-holders.js'
import {ChildRecords, childRecordsPath, StateFileDamaged} from '../registry/child-records.js'
import {processStartTime} from '../supervisor/proc.js'
import {check, displayPath, worst, type CheckStatus, type DoctorCheck} from './report.js'

const PING_TIMEOUT_MS = 2000

export interface DaemonFacts {
  /** The pid of a living daemon of this manifest, when one runs. */
  daemonPid?: number
  check: DoctorCheck
}

export async function checkDaemonFiles(manifest: Manifest): Promise<DaemonFacts> {
  const paths = daemonPaths(manifest.stateDir)
  const show = (file: string) => displayPath(manifest.dir, file)
  const findings: {status: CheckStatus; message: string; fix?: string}[] = []
  const answer = await pingSocket(paths.socket)
  const pidText = readOptional(paths.pidFile)
  let daemonPid: number | undefined

  if (pidText !== undefined) {
    const pid = /^\d+$/.test(pidText.trim()) ? Number(pidText.trim()) : undefined
    if (pid === undefined) {
      findings.push({status: 'WARN', message: `${show(paths.pidFile)} holds ${JSON.stringify(pidText.trim())}, not a pid`, fix: `rm ${paths.pidFile} (the next daemon writes its own)`})
    } else if (processStartTime(pid) === undefined) {
      findings.push({status: 'WARN', message: `${show(paths.pidFile)} names pid ${pid}, which is not running: a stale pid file`, fix: `rm ${paths.pidFile} (the next daemon writes its own)`})
    } else if (answer.pid !== pid && !holdsFile(pid, paths.lockFile)) {
      findings.push({
        status: 'WARN',
        message: `${show(paths.pidFile)} names pid ${pid}, which is not a qm daemon (${commandLine(pid)}): a stale pid file whose pid was reused`,
        fix: `rm ${paths.pidFile}, and do not signal pid ${pid}`,
      })
    } else {
      daemonPid = pid
      if (answer.pid === pid) findings.push({status: 'OK', message: `daemon pid ${pid} runs and answers on ${show(paths.socket)}`})
      else {
        findings.push({
          status: 'FAIL',
          message: `daemon pid ${pid} runs but does not answer on ${show(paths.socket)} (${answer.error ?? 'it answered as another pid'})`,
          fix: `kill ${pid} (qm shutdown cannot reach it); its services keep running and the next qm start adopts them`,
        })
      }
    }
  }

  if (answer.pid !== undefined && answer.pid !== daemonPid) {
    daemonPid = answer.pid
    findings.push({
      status: 'WARN',
      message: `daemon pid ${answer.pid} answers on ${show(paths.socket)} but ${show(paths.pidFile)} ${pidText === undefined ? 'is missing' : 'does not name it'}`,
      fix: `echo ${answer.pid} > ${paths.pidFile}`,
    })
  } else if (answer.stale) {
    findings.push({status: 'WARN', message: `${show(paths.socket)}: nobody listens on it: a stale socket`, fix: `rm ${paths.socket} (the next daemon makes its own)`})
  }

  try {
    ChildRecords.openReadOnly(childRecordsPath(manifest))?.close()
  } catch (error) {
    if (!(error instanceof StateFileDamaged)) throw error
    findings.push({status: 'FAIL', message: error.message, fix: error.hint!})
  }

  if (findings.length === 0) {
    return {check: check('daemon-files', 'OK', `no daemon runs, and none left a pid file or socket (${show(paths.pidFile)}, ${show(paths.socket)})`)}
  }
  const problems = findings.filter((f) => f.status !== 'OK')
  const shown = problems.length > 0 ? problems : findings
  const fixes = problems.flatMap((f) => (f.fix ? [f.fix] : []))
  return {
    ...(daemonPid === undefined ? {} : {daemonPid}),
    check: check('daemon-files', worst(findings.map((f) => f.status)), shown.map((f) => f.message).join('; '), fixes.join('\n')),
  }
}

interface SocketAnswer {
  /** The pid the daemon gave when pinged. */
  pid?: number
  /** A socket file is there and refuses connections. */
  stale?: boolean
  error?: string
}

async function pingSocket(socket: string): Promise<SocketAnswer> {
  try {
    if (!lstatSync(socket).isSocket()) return {error: `${socket} is not a socket`}
  } catch {
    return {error: 'no socket file'} // nothing there: no daemon, nothing stale
  }
  let client: ControlClient
  try {
    client = await ControlClient.connect(socket)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ECONNREFUSED' ? {stale: true, error: 'connection refused'} : {error: (error as Error).message}
  }
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to ping within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS)
    })
    const reply = await Promise.race([client.request('ping', {}), timeout])
    return {pid: reply.pid}
  } catch (error) {
    return {error: (error as Error).message}
  } finally {
    clearTimeout(timer)
    client.close()
  }
}

/** Whether the process has the file open: a daemon holds its lock file for its whole life. */
function holdsFile(pid: number, file: string): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    // Another user's process: its descriptors are hidden, so go by its command line.
    return commandLine(pid).includes('daemon-main')
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === file
    } catch {
      return false // closed since readdir
    }
  })
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
