#!/usr/bin/env node
// The figures of qm under the platform's real conditions, measured on the built CLI in a
// temporary project: kill -9 → answering and `qm status` with the registry free and with
// another process holding an exclusive lock on it (as Django does while it saves), a
// SIGSTOPped service until a new process answers, and a log flood against logs.max_size.
// `npm run bench:faults` builds first; then
//   node bench/faults.js [--repeat 9] [--lock-seconds 15] [--flood-seconds 20] [--first-port 60200]
// Progress goes to stderr, the table to stdout.
import {spawn} from 'node:child_process'
import {readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {REPO, Project} from './lib/project.js'
import {isAlive, sleep, waitFor} from './lib/processes.js'
import {evaluate, machine, renderTable} from './lib/report.js'

const options = parseArgs({
  options: {
    repeat: {type: 'string', default: '9'},
    'lock-seconds': {type: 'string', default: '15'},
    'flood-seconds': {type: 'string', default: '20'},
    'first-port': {type: 'string', default: '60200'},
  },
}).values
const REPEAT = Number(options.repeat)
const LOCK_SECONDS = Number(options['lock-seconds'])
const FLOOD_SECONDS = Number(options['flood-seconds'])
const FLOOD_SERVER = join(REPO, 'test/fixtures/flood-server.mjs')
const MIB = 1024 * 1024

const FIGURES = [
  {id: 'killFree', label: 'kill -9 → answers, registry free', unit: 'ms'},
  {id: 'killLocked', label: 'kill -9 → answers, registry locked', unit: 'ms', aim: (s) => ({text: '≤ free + 50 ms', limit: s.killFree.median + 50})},
  {id: 'statusFree', label: 'qm status, registry free', unit: 'ms'},
  {id: 'statusLocked', label: 'qm status, registry locked', unit: 'ms', aim: (s) => ({text: '≤ free × 1.2', limit: s.statusFree.median * 1.2})},
  {id: 'sigstop', label: 'SIGSTOP → answers (interval 1s, timeout 2s)', unit: 'ms', aim: () => ({text: '< 4 s', limit: 4000})},
  {id: 'sigstopFast', label: 'SIGSTOP → answers (interval 1s, timeout 1s)', unit: 'ms', aim: () => ({text: '< 4 s', limit: 4000})},
  {id: 'floodFile', label: 'log flood: largest file (max_size 1 MiB)', unit: 'bytes', aim: () => ({text: '≤ 1.1 MiB', limit: 1.1 * MIB})},
  {id: 'floodFolder', label: 'log flood: folder peak (keep 2)', unit: 'bytes', aim: () => ({text: '≤ 3.3 MiB', limit: 3.3 * MIB})},
]
const samples = Object.fromEntries(FIGURES.map((f) => [f.id, []]))
const notes = []
const startedMs = performance.now()
const progress = (line) => process.stderr.write(`[${((performance.now() - startedMs) / 1000).toFixed(1).padStart(5)}s] ${line}\n`)

// Each kill of a phase takes a service of its own: a service killed again within
// backoff.reset_after waits out its growing backoff, which would measure the policy.
const SERVICES = 2 * REPEAT + 2

function manifest(project, {flood}) {
  const [first] = project.ports
  const services = project.names
    .map((name, i) => `  ${name}:\n    command: ${JSON.stringify(project.command)}\n${i === project.names.length - 1 ? '    health: {timeout: 1s}\n' : ''}`)
    .join('')
  const floodService = flood ? `  flood:\n    command: ${JSON.stringify([process.execPath, FLOOD_SERVER])}\n    logs: {max_size: 1MB, keep: 2}\n` : ''
  return [
    'version: 1',
    `port_range: [${first}, ${first + SERVICES}]`,
    'defaults:',
    '  certs: ./certs',
    '  health: {interval: 1s, failure_threshold: 2}',
    'services:',
    services + floodService,
  ].join('\n')
}

async function service(project, name) {
  return (await project.status()).services.find((s) => s.name === name)
}

/** Another process holding BEGIN EXCLUSIVE on the registry, as Django does inside a save. */
async function holdLock(file, seconds) {
  const script = `import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN EXCLUSIVE')
print('locked', flush=True)
time.sleep(float(sys.argv[2]))
c.execute('ROLLBACK')`
  const child = spawn('python3', ['-c', script, file, String(seconds)], {stdio: ['ignore', 'pipe', 'inherit']})
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('locked') && resolve())
    child.once('exit', (code) => reject(new Error(`the lock holder exited ${code} before it held the lock`)))
  })
  return child
}

async function kills(project, m, id, offset) {
  for (let i = 0; i < REPEAT; i++) {
    const name = project.names[offset + i]
    samples[id].push((await m.killToServing(project, await service(project, name))).ms)
  }
  for (let i = 0; i < REPEAT; i++) samples[id.replace('kill', 'status')].push((await project.qmExpect(['status'], [0, 3])).ms)
}

async function sigstop(project, name, id) {
  for (let i = 0; i < 3; i++) {
    const before = await service(project, name)
    const stoppedAt = performance.now()
    process.kill(before.pid, 'SIGSTOP')
    await waitFor(async () => {
      const now = await service(project, name)
      return now.pid !== before.pid && now.state === 'running' && now.health?.status === 'SERVING'
    }, {timeoutMs: 30_000, pauseMs: 20, what: `${name} answering with a new pid after SIGSTOP`})
    samples[id].push(performance.now() - stoppedAt)
    progress(`SIGSTOP ${i + 1}/3 of ${name}: a new process answered after ${Math.round(samples[id].at(-1))} ms`)
    if (isAlive(before.pid)) notes.push(`the stopped pid ${before.pid} was still alive after the restart`)
  }
}

async function flood(project) {
  writeFileSync(join(project.dir, 'services.yaml'), manifest(project, {flood: true}))
  await project.qmExpect(['start', 'flood'])
  const logs = join(project.stateDir, 'logs')
  let largest = 0
  let peak = 0
  const until = performance.now() + FLOOD_SECONDS * 1000
  while (performance.now() < until) {
    let total = 0
    for (const name of readdirSync(logs).filter((n) => n.startsWith('flood'))) {
      try {
        const size = statSync(join(logs, name)).size
        largest = Math.max(largest, size)
        total += size
      } catch {
        // renamed between the listing and the stat
      }
    }
    peak = Math.max(peak, total)
    await sleep(5)
  }
  samples.floodFile.push(largest)
  samples.floodFolder.push(peak)
  const rate = (await service(project, 'flood'))
  progress(`flood for ${FLOOD_SECONDS} s: largest file ${(largest / MIB).toFixed(3)} MiB, folder peak ${(peak / MIB).toFixed(3)} MiB, flood ${rate.state}`)
  await project.qmExpect(['stop', 'flood'])
}

async function main() {
  const project = new Project({services: SERVICES, firstPort: Number(options['first-port'])})
  const cleanup = () => project.cleanup()
  process.on('SIGINT', async () => {
    await cleanup()
    process.exit(130)
  })
  try {
    project.assertPortsFree()
    await project.create()
    writeFileSync(join(project.dir, 'services.yaml'), manifest(project, {flood: false}))
    const m = await import('./lib/measure.js')
    await project.qmExpect(['start'])
    progress(`${SERVICES} echo services in ${project.dir}`)
    await kills(project, m, 'killFree', 0)
    progress(`registry free: kill -9 → answers and qm status, ${REPEAT} each`)
    const lock = await holdLock(join(project.stateDir, 'registry.sqlite3'), LOCK_SECONDS)
    await kills(project, m, 'killLocked', REPEAT)
    if (lock.exitCode !== null) notes.push(`the lock ended before the locked figures were taken: use a longer --lock-seconds`)
    progress(`registry locked: the same, all within the ${LOCK_SECONDS} s lock: ${lock.exitCode === null}`)
    await new Promise((resolve) => (lock.exitCode === null ? lock.once('exit', resolve) : resolve()))
    await waitFor(async () => (await project.status()).registry?.pendingWrites === 0, {timeoutMs: 15_000, pauseMs: 100, what: 'the kept registry writes to land'})
    await sigstop(project, project.names.at(-2), 'sigstop')
    await sigstop(project, project.names.at(-1), 'sigstopFast')
    await flood(project)
  } finally {
    await cleanup()
  }
  const header = [
    `qm fault figures, ${new Date().toISOString()}: ${REPEAT} kills per phase, a ${LOCK_SECONDS} s lock, a ${FLOOD_SECONDS} s flood at 20 MB/s`,
    `machine: ${machine().nproc} × ${machine().cpu}, Node ${process.version}`,
  ]
  process.stdout.write(`${renderTable(header, evaluate(FIGURES, samples), notes)}\n`)
}

await main()
