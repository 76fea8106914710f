#!/usr/bin/env node
// qm's benchmark: runs the built CLI as a user would, in a temporary project of N copies of
// the echo example, and sets each figure beside its floor (the same services spawned and
// polled directly) measured in the same run. `npm run bench` builds first; then
//   node bench/run.js [--json] [--rounds 3] [--services 40] [--kills 10] [--repeat 20]
//                     [--probe-repeat 100] [--first-port 60100] [--keep]
// Progress goes to stderr, the table (or JSON) to stdout.
import {parseArgs} from 'node:util'
import {REPO, Project} from './lib/project.js'
import {evaluate, machine, renderTable, toJson} from './lib/report.js'
import {randomPick} from './lib/stats.js'

// Away from the repository's 50051–50090 and from the 50000–59999 the tests hand out in
// blocks, yet inside Linux's ephemeral range (32768–60999) as qm's own default range is,
// so the dial guard's reason to exist applies here too.
const DEFAULT_FIRST_PORT = 60100

const options = parseArgs({
  options: {
    json: {type: 'boolean', default: false},
    rounds: {type: 'string', default: '3'},
    services: {type: 'string', default: '40'},
    kills: {type: 'string', default: '10'},
    repeat: {type: 'string', default: '20'},
    'probe-repeat': {type: 'string', default: '100'},
    'first-port': {type: 'string', default: String(DEFAULT_FIRST_PORT)},
    keep: {type: 'boolean', default: false},
  },
}).values
const config = {
  rounds: positive('rounds'),
  services: positive('services'),
  kills: positive('kills'),
  repeat: positive('repeat'),
  probeRepeat: positive('probe-repeat'),
  firstPort: positive('first-port'),
}

function positive(name) {
  const value = Number(options[name])
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a whole number of at least 1, got ${options[name]}\n`)
    process.exit(2)
  }
  return value
}

const N = config.services
const FIGURES = [
  {id: 'version', label: 'qm --version', unit: 'ms'},
  {id: 'endpoints', label: `qm endpoints --json (${N} rows)`, unit: 'ms'},
  {id: 'status', label: `qm status --json (${N} running)`, unit: 'ms', aim: () => ({text: '≤ 150 ms', limit: 150})},
  {id: 'startQm', label: `cold start → ${N} healthy: qm start`, unit: 'ms'},
  {id: 'startFloor', label: '  floor: spawned directly, polled', unit: 'ms'},
  {id: 'startRatio', label: '  qm / floor, per round', unit: 'x', aim: () => ({text: '≤ 1.15×', limit: 1.15})},
  {id: 'killToServing', label: 'kill -9 one → it answers again', unit: 'ms', aim: (s) => ({text: '≤ single floor + 30 ms', limit: s.singleFloor.median + 30})},
  {id: 'killToLogged', label: '  same, daemon log says running', unit: 'ms'},
  {id: 'singleFloor', label: '  floor: one spawned → answers', unit: 'ms'},
  {id: 'sweepFirst', label: `probe sweep of ${N}, first (new channels)`, unit: 'ms'},
  {id: 'sweepKept', label: `probe sweep of ${N}, kept channels`, unit: 'ms', aim: () => ({text: '≤ 50 ms', limit: 50})},
  {id: 'daemonRss', label: `daemon RSS, ${N} running`, unit: 'bytes', aim: () => ({text: '≤ 80 MB', limit: 80e6})},
  {id: 'stopQm', label: `qm stop ${N} → ports closed`, unit: 'ms'},
  {id: 'stopFloor', label: '  floor: SIGTERM each group', unit: 'ms'},
  {id: 'probeFresh', label: 'probe one, new channel', unit: 'ms'},
  {id: 'probeKept', label: 'probe one, kept channel', unit: 'ms'},
]

const benchStartedMs = performance.now()
const samples = Object.fromEntries(FIGURES.map((f) => [f.id, []]))
const notes = []

function progress(line) {
  process.stderr.write(`[${((performance.now() - benchStartedMs) / 1000).toFixed(1).padStart(5)}s] ${line}\n`)
}

function ms(value) {
  return `${Math.round(value)} ms`
}

async function repeatCli(project, id, args, codes) {
  for (let i = 0; i < config.repeat; i++) samples[id].push((await project.qmExpect(args, codes)).ms)
  progress(`qm ${args.join(' ')}: ${config.repeat} runs`)
}

/** A start from no daemon; it must return with every service healthy (exit 0). */
async function coldStart(project) {
  if (project.daemonPid()) throw new Error('a qm daemon is still running before a cold start')
  return (await project.qmExpect(['start'])).ms
}

async function qmStopAndShutdown(project, m, round) {
  const stop = await m.qmStop(project, project.ports)
  if (stop.openAtReturn.length > 0) {
    notes.push(`${round}: ${stop.openAtReturn.length} port(s) still listened when qm stop returned; all closed ${ms(stop.closedAfterMs)} later`)
  }
  await project.qmExpect(['shutdown'])
  await project.waitDaemonGone()
  await m.waitPortsQuiet(project.ports)
  return stop
}

/** The figures taken while qm's N services run: CLI reads, probes, memory, kill -9. */
async function whileRunning(project, m) {
  await repeatCli(project, 'status', ['status', '--json'], [0])
  await repeatCli(project, 'endpoints', ['endpoints', '--json'], [0])
  const listing = JSON.parse((await project.qmExpect(['endpoints', '--json'])).stdout)
  if (listing.endpoints.length !== N) notes.push(`the registry held ${listing.endpoints.length} rows, not ${N}`)
  samples.daemonRss.push(m.daemonRss(project))

  const sweeps = await m.probeSweeps(project, project.ports, config.repeat)
  samples.sweepFirst.push(sweeps.first)
  samples.sweepKept.push(...sweeps.kept)
  progress(`probe sweeps: first ${ms(sweeps.first)}, then ${config.repeat} on kept channels`)

  const probes = await m.probeLatencies(project, project.ports[0], config.probeRepeat)
  samples.probeFresh.push(...probes.fresh)
  samples.probeKept.push(...probes.kept)
  progress(`probe latency: ${config.probeRepeat} on new channels, ${config.probeRepeat} on a kept one`)

  // Distinct victims: a second kill of one service within backoff.reset_after would be
  // delayed by its backoff, which is policy, not restart speed.
  const victims = randomPick(project.names, config.kills)
  for (const [i, name] of victims.entries()) {
    const service = (await project.status()).services.find((s) => s.name === name)
    if (!service?.pid || service.state !== 'running') throw new Error(`${name} is not running before its kill: ${JSON.stringify(service)}`)
    const kill = await m.killToServing(project, service)
    samples.killToServing.push(kill.ms)
    samples.killToLogged.push(kill.loggedMs)
    // Interleaved, so both see the same background: N services and a daemon running.
    samples.singleFloor.push(await m.singleStartFloor(project))
    progress(`kill -9 ${i + 1}/${victims.length} ${name}: answers after ${ms(kill.ms)} (log ${ms(kill.loggedMs)}); single floor ${ms(samples.singleFloor.at(-1))}`)
  }
  const after = await project.status()
  const restarts = after.services.reduce((sum, s) => sum + (s.restarts ?? 0), 0)
  if (restarts !== victims.length) notes.push(`after ${victims.length} kills qm counted ${restarts} restarts`)
}

async function round(project, m, index) {
  const label = `round ${index}/${config.rounds}`
  const floor = await m.floorStart(project, project.ports)
  samples.startFloor.push(floor.ms)
  samples.stopFloor.push(await m.floorStop(project, floor.children, project.ports))
  progress(`${label} floor: ${N} healthy in ${ms(floor.ms)}, stopped in ${ms(samples.stopFloor.at(-1))}`)

  const startMs = await coldStart(project)
  samples.startQm.push(startMs)
  samples.startRatio.push(startMs / floor.ms)
  samples.daemonRss.push(m.daemonRss(project))
  const stop = await qmStopAndShutdown(project, m, label)
  samples.stopQm.push(stop.ms)
  progress(`${label} qm: start ${ms(startMs)} (${(startMs / floor.ms).toFixed(2)}× floor), stop ${ms(stop.ms)}`)
}

async function runBench(project) {
  project.assertPortsFree()
  await project.create()
  progress(`project in ${project.dir}: ${N} echo services on ports ${project.ports[0]}–${project.ports.at(-1)}`)
  const m = await import('./lib/measure.js')

  await repeatCli(project, 'version', ['--version'], [0])

  // The first start registers every port and warms the page cache for both sides; it is
  // not a figure. The figures that need services running are taken in this phase.
  const warm = await coldStart(project)
  progress(`first qm start (registers ${N} ports, not counted): ${ms(warm)}`)
  await whileRunning(project, m)
  await qmStopAndShutdown(project, m, 'first start')

  for (let i = 1; i <= config.rounds; i++) await round(project, m, i)
}

function report(meta) {
  const rows = evaluate(FIGURES, samples)
  if (options.json) {
    process.stdout.write(`${toJson(meta, rows, notes, samples)}\n`)
    return
  }
  const {machine: host} = meta
  const header = [
    `qm bench, ${meta.date}: ${N} echo services, ${config.rounds} round(s), ${meta.elapsedSeconds} s`,
    `machine: ${host.nproc} × ${host.cpu}, Node ${host.node}, Linux ${host.kernel}, load ${host.loadAverage.join(' ')} at the start`,
  ]
  process.stdout.write(`${renderTable(header, rows, notes)}\n`)
}

async function main() {
  const meta = {date: new Date().toISOString(), machine: machine(), config}
  const project = new Project({services: N, firstPort: config.firstPort})
  // Ctrl-C, SIGTERM or an error outside the awaited flow: clean up, then leave at once.
  let interrupted = false
  const abandon = async (why, exitCode) => {
    if (interrupted) process.exit(exitCode) // a second Ctrl-C: leave now
    interrupted = true
    progress(`${why}: cleaning up`)
    await project.cleanup({keep: options.keep})
    process.exit(exitCode)
  }
  process.on('SIGINT', () => abandon('SIGINT', 130))
  process.on('SIGTERM', () => abandon('SIGTERM', 143))
  process.on('uncaughtException', (error) => abandon(`uncaught ${error.stack ?? error}`, 1))
  process.on('unhandledRejection', (error) => abandon(`unhandled ${error?.stack ?? error}`, 1))

  let failure
  try {
    await runBench(project)
  } catch (error) {
    failure = error
  }
  if (interrupted) return // abandon() owns the cleanup and the exit
  progress('cleaning up')
  const left = await project.cleanup({keep: options.keep || failure !== undefined})
  if (left.length > 0) notes.push(`processes left after cleanup: ${left.join(' ')}`)
  if (failure) {
    process.stderr.write(`bench failed: ${failure.stack ?? failure}\nthe project is kept in ${project.dir}\n`)
    if (left.length > 0) process.stderr.write(`processes left after cleanup: ${left.join(' ')}\n`)
    if (/MODULE_NOT_FOUND|Cannot find module/.test(String(failure))) process.stderr.write(`dist/ may be being rebuilt: run npm run build in ${REPO} and again\n`)
    process.exit(1)
  }
  meta.elapsedSeconds = Math.round((performance.now() - benchStartedMs) / 100) / 10
  report(meta)
}

await main()
