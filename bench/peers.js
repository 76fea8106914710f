#!/usr/bin/env node
// qm beside PM2 and supervisord on the same job, in one run: N services written to the
// guide (Python, mTLS, no health service), each supervisor started, asked, killed into and
// stopped by its own commands, in turns, R rounds, medians; qm also as `qm up`, the
// supervisor in the foreground as a container runs it. The floor is the same services
// spawned and stopped by the harness itself. A supervisor that is not installed is skipped
// with a line saying so. `npm run bench` builds first; then
//   node bench/peers.js [--rounds 3] [--services 40] [--kills 10] [--status-runs 5]
//                       [--restart-rounds 1] [--first-port 65400] [--only qm,PM2,supervisord] [--json]
// After the rounds, every service is restarted under the platform's kind of load
// (--restart-rounds times; 0 skips it): failed Calls through qm rollout, qm restart (with
// no drain, and with --drain 2s), pm2 restart all and supervisorctl restart all.
// Progress goes to stderr, the table (or JSON) to stdout.
import {spawn} from 'node:child_process'
import {parseArgs} from 'node:util'
import {GuideJob} from './lib/guide-services.js'
import {cpuTicks, cpuTimeMs, isAlive, killGroup, residentBytes, residentParts, sleep, waitFor} from './lib/processes.js'
import {machine} from './lib/report.js'
import {summarize} from './lib/stats.js'
import {DAEMON_NODE_FLAGS} from '../dist/control/daemon-node-flags.js'
import {fixedRegistry, qmAutoPorts, underLoad} from './lib/restart-load.js'
import {pm2, qm, run, supervisord} from './lib/supervisors.js'

const options = parseArgs({
  options: {
    rounds: {type: 'string', default: '3'},
    services: {type: 'string', default: '40'},
    // Ten kills a round, thirty in all: a respawn moves by tens of ms from one kill to the next.
    kills: {type: 'string', default: '10'},
    'status-runs': {type: 'string', default: '5'},
    'restart-rounds': {type: 'string', default: '1'},
    // Above Linux's ephemeral range (32768–60999) and the tests' blocks (61000–65399): in
    // that range any outgoing connection, the harness's own probes included, can take a
    // service's port as its source port, and the service then cannot bind it.
    'first-port': {type: 'string', default: '65400'},
    only: {type: 'string'},
    json: {type: 'boolean', default: false},
  },
}).values
const count = (name) => {
  const value = Number(options[name])
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a whole number of at least 1, got ${options[name]}\n`)
    process.exit(2)
  }
  return value
}
const ROUNDS = count('rounds')
const N = count('services')
const KILLS = count('kills')
const STATUS_RUNS = count('status-runs')
const FIRST_PORT = count('first-port')
const RESTART_ROUNDS = options['restart-rounds'] === '0' ? 0 : count('restart-rounds')
const MIB = 1024 * 1024
// qm's health interval: each service's liveness probe falls in the window once.
const IDLE_SAMPLE_MS = 10_000

const startedMs = performance.now()
const progress = (line) => process.stderr.write(`[${((performance.now() - startedMs) / 1000).toFixed(1).padStart(6)}s] ${line}\n`)

// samples[figure][column] = [values]
const samples = {}
const add = (figure, column, value) => ((samples[figure] ??= {})[column] ??= []).push(value)

const missingJob = GuideJob.missing()
if (missingJob) {
  process.stderr.write(`cannot run the guide services: ${missingJob}\n`)
  process.exit(1)
}
const job = new GuideJob({services: N, firstPort: FIRST_PORT})
const cleanup = () => job.cleanup()
process.on('SIGINT', () => {
  cleanup()
  process.exit(130)
})

try {
  await job.create()
  const wanted = options.only ? new Set(options.only.split(',')) : undefined
  const supervisors = []
  const skipped = []
  for (const make of [qm, pm2, supervisord]) {
    const supervisor = make(job)
    if (wanted && !wanted.has(supervisor.name)) continue
    const missing = supervisor.missing()
    if (missing) {
      skipped.push(`${supervisor.name} skipped: ${missing}`)
      progress(`${supervisor.name} skipped: ${missing}`)
      continue
    }
    supervisor.setup()
    supervisors.push(supervisor)
  }
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round in another order, so no one always follows the same neighbour.
    const order = [floor, ...supervisors]
    for (let i = 0; i < round - 1; i++) order.push(order.shift())
    for (const subject of order) {
      progress(`round ${round}/${ROUNDS}: ${subject.name}`)
      await job.quiet()
      if (subject === floor) await measureFloor(round)
      else await measureSupervisor(subject, round)
    }
  }
  const restartColumns = []
  for (let round = 1; round <= RESTART_ROUNDS; round++) {
    for (const subject of restartSubjects(supervisors)) {
      progress(`restart under load ${round}/${RESTART_ROUNDS}: ${subject.name}`)
      await job.quiet()
      const counts = await subject.measure()
      const kinds = [...new Set(counts.errors.map((error) => error.replace(/^\S+ port \d+: /, '')))]
      progress(`  ${counts.failed} failed, ${counts.ok} ok, ${counts.not_found} lookups found no active row${kinds.length > 0 ? `; failures: ${kinds.slice(0, 3).join(' | ')}` : ''}`)
      add('restartFailed', subject.name, counts.failed)
      add('restartOk', subject.name, counts.ok)
      add('restartMs', subject.name, counts.restartMs)
      if (round === 1) restartColumns.push(subject.name)
    }
  }
  const table = report(supervisors.map((s) => s.name), skipped) + (restartColumns.length > 0 ? `\n\n${restartReport(restartColumns)}` : '')
  process.stdout.write(options.json ? `${JSON.stringify({machine: machine(), rounds: ROUNDS, services: N, samples}, null, 2)}\n` : `${table}\n`)
} finally {
  cleanup()
}

/** The harness alone, in the rounds' rotation like a supervisor. */
function floor() {}

/** The services spawned and stopped by the harness: what a supervisor could do at best. */
async function measureFloor(round) {
  let started = performance.now()
  const children = job.ports.map((_, i) => spawnDirect(i))
  add('warm', 'floor', await job.allAnswered(started))
  await addConnectionFloorMemory()
  // The parent that only respawns (below), here with the other services running, as every
  // supervisor's respawn is measured: what the machine's state adds to a respawn.
  for (let k = 0; k < KILLS; k++) {
    const i = (round * KILLS + k) % N
    await sleep(300)
    const exited = new Promise((resolve) => children[i].once('exit', resolve))
    started = performance.now()
    process.kill(children[i].pid, 'SIGKILL')
    await exited
    children[i] = spawnDirect(i)
    job.channels.drop({host: '127.0.0.1', port: job.ports[i], certs: job.certs})
    const answeredMs = await job.answered(job.ports[i], started)
    add('respawnServiceCpu', 'floor', cpuTimeMs(children[i].pid))
    add('respawnBareAmong', 'floor', answeredMs)
    addRespawnParts('floor', children[i].pid, started, answeredMs)
  }
  started = performance.now()
  for (const child of children) killGroup(child.pid, 'SIGTERM')
  add('stopClosed', 'floor', await job.allClosed(started))
  add('stopReturns', 'floor', performance.now() - started)
  await waitFor(() => children.every((child) => !isAlive(child.pid)), {timeoutMs: 10_000, what: 'the floor services to exit'})
  for (let k = 0; k < KILLS; k++) {
    await job.quiet()
    const port = (round * KILLS + k) % N
    started = performance.now()
    const child = spawnDirect(port)
    add('respawn', 'floor', await job.answered(job.ports[port], started))
    // The supervisors' kill -9, answered by a parent that does nothing but spawn the service
    // again on its exit: what the floor above leaves out, the kernel's teardown of the killed
    // process before anyone hears of its end, and one spawn.
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await sleep(300)
    started = performance.now()
    process.kill(child.pid, 'SIGKILL')
    await exited
    add('exitSeen', 'floor', performance.now() - started)
    const again = spawnDirect(port)
    job.channels.drop({host: '127.0.0.1', port: job.ports[port], certs: job.certs})
    add('respawnBare', 'floor', await job.answered(job.ports[port], started))
    killGroup(again.pid)
    await job.allClosed(performance.now())
  }
}

/**
 * The floor of the daemon's memory: a Node process with the daemon's flags that holds what
 * the contract asks of a daemon (bench/lib/connection-floor.js), read 1.5 s after it is
 * ready, as the daemons are after a start.
 */
async function addConnectionFloorMemory() {
  // As the daemon qm starts with an SQLite registry: without extra CA certificates to load.
  const env = {...job.env}
  delete env.NODE_EXTRA_CA_CERTS
  const script = new URL('./lib/connection-floor.js', import.meta.url).pathname
  const holder = spawn(process.execPath, [...DAEMON_NODE_FLAGS, script, job.dir, JSON.stringify(job.certs), JSON.stringify(job.ports)], {env, stdio: ['ignore', 'pipe', 'pipe']})
  const exited = new Promise((resolve) => holder.once('exit', resolve))
  let stdout = ''
  let stderr = ''
  holder.stdout.on('data', (chunk) => (stdout += chunk))
  holder.stderr.on('data', (chunk) => (stderr += chunk))
  try {
    await waitFor(() => stdout.includes('ready\n') || holder.exitCode !== null, {timeoutMs: 30_000, pauseMs: 20, what: 'the connection floor to get ready'})
    if (!stdout.includes('ready\n')) throw new Error(`the connection floor exited ${holder.exitCode}: ${stderr.slice(-500)}`)
    await sleep(1500)
    addMemory('floor', holder.pid)
  } finally {
    holder.kill('SIGKILL')
    await exited
  }
}

function spawnDirect(i) {
  const [executable, ...args] = job.argv(i)
  const child = spawn(executable, args, {cwd: job.dir, env: job.env, detached: true, stdio: 'ignore'})
  child.on('error', () => {})
  return child
}

async function measureSupervisor(supervisor, round) {
  const column = supervisor.name
  await supervisor.down()
  await job.quiet()
  // Cold: no daemon yet.
  let started = performance.now()
  let [returned, healthy] = await Promise.all([supervisor.start().then(() => performance.now() - started), job.allAnswered(started)])
  add('cold', column, healthy)
  await sleep(1500)
  addMemory(column, supervisor.daemonPid())
  add('idleCpu', column, await idleCpuPercent(supervisor.daemonPid()))
  for (let k = 0; k < STATUS_RUNS; k++) {
    // The floor of a command: Node starting and ending, beside each status, on the same load.
    add('status', 'floor', (await run([process.execPath, '-e', '0'], {env: job.env, cwd: job.dir})).ms)
    add('status', column, (await supervisor.status(false)).ms)
    add('statusJson', column, (await supervisor.status(true)).ms)
    if (supervisor.name === 'qm') {
      const qmRun = async (args) => (await run([process.execPath, new URL('../bin/run.js', import.meta.url).pathname, ...args], {env: job.env, cwd: `${job.dir}/qm`})).ms
      add('version', column, await qmRun(['--version']))
      add('endpoints', column, await qmRun(['endpoints']))
      add('logs', column, await qmRun(['logs', '-n', '5', job.names[0]]))
    }
  }
  for (let k = 0; k < KILLS; k++) {
    const i = (round * KILLS + k) % N
    const pid = await supervisor.servicePid(i)
    const daemonPid = supervisor.daemonPid()
    const daemonCpuMs = cpuTimeMs(daemonPid)
    started = performance.now()
    process.kill(pid, 'SIGKILL')
    await waitFor(() => !isAlive(pid), {timeoutMs: 5000, pauseMs: 1, what: `pid ${pid} to end`})
    job.channels.drop({host: '127.0.0.1', port: job.ports[i], certs: job.certs})
    const answeredMs = await job.answered(job.ports[i], started)
    add('respawn', column, answeredMs)
    add('respawnSupervisorCpu', column, cpuTimeMs(daemonPid) - daemonCpuMs)
    // Read as it answers, before asking the supervisor for its pid takes a command's time;
    // kept only if the supervisor then names that same process.
    const newest = job.lastStarted()
    const newestCpuMs = newest === undefined ? undefined : cpuTimeMs(newest)
    const newPid = await supervisor.servicePid(i)
    if (newPid === newest && newestCpuMs !== undefined) add('respawnServiceCpu', column, newestCpuMs)
    addRespawnParts(column, newPid, started, answeredMs)
    await sleep(300)
  }
  started = performance.now()
  let closed
  ;[returned, closed] = await Promise.all([supervisor.stop().then(() => performance.now() - started), job.allClosed(started)])
  add('stopClosed', column, closed)
  add('stopReturns', column, returned)
  await job.quiet()
  // Warm: the daemon runs, every service is stopped.
  started = performance.now()
  ;[returned, healthy] = await Promise.all([supervisor.start().then(() => performance.now() - started), job.allAnswered(started)])
  add('warm', column, healthy)
  add('startReturns', column, returned)
  add('startLag', column, returned - healthy)
  await sleep(1500)
  addMemory(column, supervisor.daemonPid())
  await supervisor.stop()
  await supervisor.down()
  if (supervisor.foreground) await measureForeground(supervisor)
}

/**
 * A respawn in its two parts, from the moment the new process began running Python: what the
 * supervisor took (the kernel's teardown of the killed process, hearing of its end, the
 * spawn) and what the service took to answer, on a machine the supervisor shares with it.
 */
function addRespawnParts(column, pid, killedAt, answeredMs) {
  const begunAtMs = job.processBegan(pid)
  if (begunAtMs === undefined) return
  const begunMs = begunAtMs - (performance.timeOrigin + killedAt)
  add('respawnBegins', column, begunMs)
  add('respawnServes', column, answeredMs - begunMs)
}

function addMemory(column, pid) {
  const parts = residentParts(pid)
  add('memory', column, parts.residentBytes)
  add('memoryFile', column, parts.fileBytes)
  add('memoryAnonymous', column, parts.anonymousBytes)
}

/** qm up: the same supervisor in the foreground, as a container's PID 1 runs it. */
async function measureForeground(supervisor) {
  await job.quiet()
  const started = performance.now()
  const up = supervisor.foreground()
  const exited = new Promise((resolve) => up.once('exit', resolve))
  try {
    await job.allAnswered(started)
    await sleep(1500)
    add('upMemory', 'qm', residentBytes(up.pid))
    add('upIdleCpu', 'qm', await idleCpuPercent(up.pid))
  } finally {
    up.kill('SIGTERM')
    await exited
  }
}

/** The share of one core a process uses over a few seconds in which nothing is asked of it. */
async function idleCpuPercent(pid) {
  const before = cpuTicks(pid)
  await sleep(IDLE_SAMPLE_MS)
  return ((cpuTicks(pid) - before) * 10 * 100) / IDLE_SAMPLE_MS
}

function median(figure, column) {
  return summarize(samples[figure]?.[column] ?? []).median
}

function report(names, skipped) {
  const columns = ['floor', ...names]
  const peers = names.filter((name) => name !== 'qm')
  const rows = [
    ['warm', `warm start → all ${N} answer`, 'ms', () => ({text: '≤ best peer', limit: Math.min(...peers.map((p) => median('warm', p)))})],
    ['startReturns', 'start command returns', 'ms'],
    ['startLag', '  returns − last answer (qm: after it)', 'ms', () => ({text: '≤ 50 ms', limit: 50})],
    ['cold', `cold start (no daemon) → all ${N} answer`, 'ms', () => ({text: '≤ best peer', limit: Math.min(...peers.map((p) => median('cold', p)))})],
    ['respawn', `kill -9 one → a new process answers (${KILLS} × ${ROUNDS})`, 'ms', () => ({text: '≤ floor + 10 ms and ≤ PM2', limit: Math.min(median('respawn', 'floor') + 10, median('respawn', 'PM2') || Infinity)})],
    ['respawnBare', '  a parent that only respawns on exit', 'ms'],
    ['exitSeen', '    of which kill -9 → its exit seen', 'ms'],
    ['respawnBareAmong', `  the same parent, the other ${N - 1} running`, 'ms'],
    ['respawnBegins', '  kill -9 → the new process begins (floor: the parent above)', 'ms'],
    ['respawnServes', '  the new process begins → it answers', 'ms'],
    ['respawnServiceCpu', '  the new process: its CPU time until it answers (floor: the parent above)', 'ms'],
    ['respawnSupervisorCpu', "  the supervisor's CPU time, kill -9 → answer", 'ms'],
    ['status', `status command, ${N} running (floor: node -e 0)`, 'ms', () => ({text: '≤ supervisorctl and ≤ 2× node', limit: Math.min(median('status', 'supervisord') || Infinity, 2 * median('status', 'floor'))})],
    ['statusJson', '  status as JSON (qm --json, PM2 jlist)', 'ms', () => ({text: '≤ supervisorctl and ≤ 2× node', limit: Math.min(median('status', 'supervisord') || Infinity, 2 * median('status', 'floor'))})],
    ['version', '  qm --version', 'ms', () => ({text: '≤ 2× node', limit: 2 * median('status', 'floor')})],
    ['endpoints', `  qm endpoints (${N} rows)`, 'ms', () => ({text: '≤ supervisorctl and ≤ 2× node', limit: Math.min(median('status', 'supervisord') || Infinity, 2 * median('status', 'floor'))})],
    ['logs', '  qm logs -n 5 NAME', 'ms', () => ({text: '≤ supervisorctl and ≤ 2× node', limit: Math.min(median('status', 'supervisord') || Infinity, 2 * median('status', 'floor'))})],
    ['memory', `daemon resident memory, ${N} running (floor: bench/lib/connection-floor.js)`, 'bytes', () => ({text: '≤ 0.8× PM2', limit: 0.8 * median('memory', 'PM2')})],
    ['memoryFile', '  of which pages of files (the interpreter, its libraries)', 'bytes'],
    ['memoryAnonymous', '  of which anonymous (heaps, stacks)', 'bytes'],
    ['idleCpu', `  its CPU while idle, ${N} running (% of a core)`, '%'],
    ['upMemory', '  qm up (the foreground supervisor): resident memory', 'bytes', () => ({text: '≤ 0.8× PM2', limit: 0.8 * median('memory', 'PM2')})],
    ['upIdleCpu', '  qm up: its CPU while idle', '%'],
    ['stopClosed', `stop all → all ${N} ports closed`, 'ms', () => ({text: '≤ supervisord', limit: median('stopClosed', 'supervisord')})],
    ['stopReturns', 'stop command returns', 'ms', () => ({text: '≤ ports closed + 50 ms', limit: median('stopClosed', 'qm') + 50})],
  ]
  const format = (value, unit) => (!Number.isFinite(value) ? '–' : unit === 'bytes' ? `${(value / MIB).toFixed(1)} MiB` : unit === '%' ? `${value.toFixed(1)} %` : value >= 1000 || value <= -1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`)
  const cells = rows.map(([id, label, unit, aim]) => {
    const values = columns.map((column) => median(id, column))
    const qmValue = median(id, 'qm')
    const bestPeer = Math.min(...peers.map((p) => median(id, p)).filter(Number.isFinite))
    const limit = aim && names.includes('qm') ? aim() : undefined
    const verdict = limit && Number.isFinite(limit.limit) && Number.isFinite(qmValue) ? `${limit.text}: ${qmValue <= limit.limit ? 'met' : 'MISSED'}` : ''
    const ratio = Number.isFinite(qmValue) && Number.isFinite(bestPeer) && bestPeer > 0 && id !== 'startLag' ? `${(qmValue / bestPeer).toFixed(2)}×` : ''
    return [label, ...values.map((v) => format(v, unit)), ratio, verdict]
  })
  const header = ['figure', ...columns, 'qm ÷ best peer', 'aim']
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i].length)))
  const line = (values) => values.map((value, i) => (i === 0 || i === values.length - 1 ? value.padEnd(widths[i]) : value.padStart(widths[i]))).join('  ').trimEnd()
  const m = machine()
  return [
    `${N} guide services (Python, mTLS, Call probe), ${ROUNDS} rounds in turns, medians; ${m.nproc} cores, ${m.cpu}, node ${m.node}, load ${m.loadAverage.join(' ')}`,
    ...(m.nodeExtraCaCerts ? ['NODE_EXTRA_CA_CERTS is set: each Node process here (qm, PM2, node -e 0) starts some 40 ms later; the daemon qm starts does not (its registry is SQLite)'] : []),
    ...skipped,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ].join('\n')
}

/** The restarts measured under load: qm's two ways on services with port: auto, then each peer's restart all. */
function restartSubjects(supervisors) {
  const subjects = []
  for (const supervisor of supervisors) {
    if (supervisor.name === 'qm') {
      const auto = qmAutoPorts(job)
      for (const verb of [['rollout'], ['restart'], ['restart', '--drain', '2s']]) {
        subjects.push({
          name: `qm ${verb.join(' ')}`,
          measure: async () => {
            auto.setup()
            const started = await auto.start()
            if (started.code !== 0) throw new Error(`qm start (port: auto) exited ${started.code}: ${started.stderr.slice(-500)}`)
            try {
              return await underLoad(job, auto.registry, () => run(auto.command(...verb), {env: job.env, cwd: auto.dir}))
            } finally {
              await auto.down()
            }
          },
        })
      }
      continue
    }
    subjects.push({
      name: `${supervisor.name} restart all`,
      measure: async () => {
        await supervisor.start()
        await job.allAnswered(performance.now())
        try {
          return await underLoad(job, await fixedRegistry(job), () => supervisor.restartAll())
        } finally {
          await supervisor.stop()
          await supervisor.down()
        }
      },
    })
  }
  return subjects
}

function restartReport(columns) {
  const rows = [
    ['restartFailed', 'failed Calls (ended without the end-of-stream frame)'],
    ['restartOk', 'Calls that succeeded meanwhile'],
    ['restartMs', 'restart command took (ms)'],
  ]
  const cells = rows.map(([id, label]) => [label, ...columns.map((column) => String(Math.round(median(id, column))))])
  const header = [`every one of the ${N} services restarted under the platform's load (medians of ${RESTART_ROUNDS})`, ...columns]
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i].length)))
  const line = (values) => values.map((value, i) => (i === 0 ? value.padEnd(widths[i]) : value.padStart(widths[i]))).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}
