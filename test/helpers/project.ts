// An integration test's world: a temporary folder with certificates, a manifest and its
// own port range, the CLI run against it, and a cleanup that ends the daemon and every
// process group qm recorded, then checks that none is left.
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {onTestFinished} from 'vitest'
import {createCertificateSet, writeCertificateSet} from '../../src/certs/issue.js'
import {ChildRecords} from '../../src/registry/child-records.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import type {Endpoint} from '../../src/registry/store.js'
import {runQm, startQm, type QmResult} from './run-qm.js'
import {tempDir} from './temp-dir.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

/**
 * A port range per test worker, so that projects in parallel workers (and in two test
 * runs at once) do not hand out the same port: 110 blocks in 61000–65399. The two workers
 * of one run never share a block: the block is chosen by the run (its main process, every
 * worker's parent) and by VITEST_POOL_ID, which vitest gives each worker running at the
 * same time (1 or 2). A worker's own pid would not do: with a fresh process per test file,
 * two workers' pids alike modulo 110 came up in about one run in three, and a port
 * registered by `qm new` before the other project listened on it was then taken.
 * Above Linux's ephemeral range (32768–60999), so no other program's outgoing connection
 * (a test's PostgreSQL client, say) is given one of them as its source port and leaves a
 * TIME_WAIT that stops a service from binding: that hazard has tests of its own.
 * Allocation still skips any port the kernel shows in use.
 */
export function workerPortRange(size = 40): [number, number] {
  const worker = (Number(process.env.VITEST_POOL_ID ?? '1') - 1) % 2
  const block = ((process.ppid % 55) * 2 + worker) % 110
  const first = 61000 + block * size
  return [first, first + size - 1]
}

export interface Project {
  dir: string
  portRange: [number, number]
  qm: (...args: string[]) => Promise<QmResult>
  qmStart: (...args: string[]) => ReturnType<typeof startQm>
  writeManifest: (servicesYaml: string, extra?: string) => void
  endpoints: () => Promise<Endpoint[]>
  daemonPid: () => number | undefined
  recordedPids: () => number[]
}

let sharedCerts: Awaited<ReturnType<typeof createCertificateSet>> | undefined

export async function makeProject(): Promise<Project> {
  const dir = tempDir('qm-project-')
  sharedCerts ??= await createCertificateSet()
  await writeCertificateSet(join(dir, 'certs'), sharedCerts)
  const portRange = workerPortRange()
  const project: Project = {
    dir,
    portRange,
    qm: (...args) => runQm(args, {cwd: dir}),
    qmStart: (...args) => startQm(args, {cwd: dir}),
    writeManifest: (servicesYaml, extra = '') => {
      writeFileSync(
        join(dir, 'services.yaml'),
        `version: 1\nport_range: [${portRange[0]}, ${portRange[1]}]\n${extra}defaults:\n  stop_timeout: 2s\n  health: {interval: 500ms, timeout: 1s, start_timeout: 10s, failure_threshold: 2}\nservices:\n${servicesYaml}`,
      )
    },
    endpoints: async () => {
      const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
      try {
        return await store.list()
      } finally {
        await store.close()
      }
    },
    daemonPid: () => {
      try {
        return Number(readFileSync(join(dir, '.qm', 'daemon.pid'), 'utf8'))
      } catch {
        return undefined
      }
    },
    recordedPids: () => {
      const records = ChildRecords.openReadOnly(join(dir, '.qm', 'state.sqlite3'))
      const pids = (records?.all() ?? []).map((record) => record.pid).filter((pid): pid is number => pid !== null)
      records?.close()
      return pids
    },
  }
  onTestFinished(async () => {
    // A test may have damaged the records on purpose: then the processes are found by the
    // project's folder in their command lines.
    let seen: number[] = []
    try {
      seen = project.recordedPids()
    } catch {
      seen = []
    }
    const daemon = project.daemonPid()
    await project.qm('shutdown')
    for (const pid of [...seen, ...processesMentioning(dir), ...(daemon ? [daemon] : [])]) killGroup(pid)
  })
  return project
}

/** Pids of the processes whose command line names something inside dir: a project's services, daemon and log processes. */
export function processesMentioning(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some((arg) => arg.startsWith(`${dir}/`))) pids.push(Number(entry))
    } catch {
      continue // ended while we looked
    }
  }
  return pids
}

export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL')
    } catch {
      // already gone, which is what we want
    }
  }
}

/** The log processes (libexec/qm-log-writer) whose arguments name a path under `dir`. */
export function logWriters(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        return argv.some((arg) => arg.endsWith('qm-log-writer')) && argv.some((arg) => arg.startsWith(dir))
      } catch {
        return false // ended while we looked
      }
    })
    .map(Number)
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls until check passes; fails saying what it last saw and after how long. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const started = performance.now()
  let last: T | undefined
  while (performance.now() - started < timeoutMs) {
    last = await check()
    if (last) return last as NonNullable<T>
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out after ${Math.round(performance.now() - started)} ms waiting for ${what}; last saw ${JSON.stringify(last)}`)
}

export function service(name: string, fixture: string, extra = ''): string {
  return `  ${name}:\n    command: [${process.execPath}, ${join(FIXTURES, fixture)}]\n${extra}`
}
