// The measurements themselves, each returning milliseconds (or bytes). The floor and the
// bench's own watching use qm's ProbeChannels and waitUntilServing, so "healthy" means
// the same thing on both sides of every comparison.
import {join} from 'node:path'
import {ProbeChannels} from '../../dist/health/probe.js'
import {waitUntilServing} from '../../dist/health/wait.js'
import {isAlive, killGroup, listeningAmong, portsQuiet, residentBytes, spawnService, waitFor} from './processes.js'

const PROBE = {timeoutMs: 2000}
const WAIT = {...PROBE, startTimeoutMs: 30_000}

/** A channel set the project closes on cleanup if the measurement does not get to. */
function channelsFor(project) {
  const channels = new ProbeChannels()
  const close = () => channels.close()
  project.closers.add(close)
  return {
    channels,
    close() {
      project.closers.delete(close)
      close()
    },
  }
}

function assertServing(results, what) {
  const failed = results.filter((result) => result.status !== 'SERVING')
  if (failed.length > 0) throw new Error(`${what}: ${failed.length} not SERVING, e.g. ${failed[0].status}: ${failed[0].reason ?? ''}`)
}

/** Times `work` (an async function) on the monotonic clock. */
export async function timed(work) {
  const startedMs = performance.now()
  const value = await work()
  return {ms: performance.now() - startedMs, value}
}

/** The floor of a start: every service spawned at once, each polled until it answers. */
export async function floorStart(project, ports) {
  const {channels, close} = channelsFor(project)
  try {
    const {ms, value} = await timed(async () => {
      const children = ports.map((port) =>
        project.trackFloorService(
          spawnService({command: project.command, port, certs: project.certs, cwd: project.dir, logFile: join(project.floorLogDir, `${port}.log`)}),
        ),
      )
      const results = await Promise.all(ports.map((port) => waitUntilServing(project.target(port), {...WAIT, channels})))
      return {children, results}
    })
    assertServing(value.results, 'floor start')
    return {ms, children: value.children}
  } finally {
    // Closed before the services go, so that their side of each connection closes cleanly.
    close()
  }
}

/** The floor of a stop: SIGTERM to each group, until every port is closed and every process gone. */
export async function floorStop(project, children, ports) {
  const {ms} = await timed(async () => {
    for (const child of children) killGroup(child.pid, 'SIGTERM')
    await waitFor(() => listeningAmong(ports).length === 0 && children.every((child) => child.exitCode !== null || child.signalCode !== null), {
      timeoutMs: 15_000,
      pauseMs: 2,
      what: 'the floor services to stop',
    })
  })
  await waitPortsQuiet(ports)
  return ms
}

export async function waitPortsQuiet(ports) {
  await waitFor(() => portsQuiet(ports), {timeoutMs: 20_000, pauseMs: 20, what: `ports ${ports[0]}–${ports[ports.length - 1]} to be free of connections`})
}

/** One service spawned directly and polled until it answers, then killed. */
export async function singleStartFloor(project) {
  const port = project.sparePort
  let child
  const {ms, value} = await timed(async () => {
    child = project.trackFloorService(
      spawnService({command: project.command, port, certs: project.certs, cwd: project.dir, logFile: join(project.floorLogDir, `${port}.log`)}),
    )
    return waitUntilServing(project.target(port), WAIT)
  })
  assertServing([value], 'single-service floor')
  killGroup(child.pid)
  await waitFor(() => !isAlive(child.pid), {timeoutMs: 5000, pauseMs: 2, what: 'the single floor service to die'})
  await waitPortsQuiet([port])
  return ms
}

/**
 * kill -9 of a running service until it answers again on its port (the daemon keeps the
 * port across restarts), and when the daemon's log records it running again. The probe
 * waits for the old process to be dead first, so it cannot be answered by it.
 */
export async function killToServing(project, service) {
  const killedAtWallMs = Date.now()
  const {ms} = await timed(async () => {
    process.kill(service.pid, 'SIGKILL')
    await waitFor(() => !isAlive(service.pid), {timeoutMs: 5000, pauseMs: 1, what: `${service.name} (pid ${service.pid}) to die`})
    assertServing([await waitUntilServing(project.target(service.port), WAIT)], `${service.name} after kill -9`)
  })
  let loggedAtWallMs
  await waitFor(
    () => {
      loggedAtWallMs = project.transitionTimes(service.name, 'starting', 'running').find((t) => t >= killedAtWallMs)
      return loggedAtWallMs !== undefined
    },
    {timeoutMs: 15_000, pauseMs: 20, what: `the daemon log to show ${service.name} running again`},
  )
  return {ms, loggedMs: loggedAtWallMs - killedAtWallMs}
}

/** The first sweep over all targets (new channels, so TLS handshakes), then `repeat` on the kept channels. */
export async function probeSweeps(project, ports, repeat) {
  const {channels, close} = channelsFor(project)
  try {
    const sweep = async () => {
      const {ms, value} = await timed(() => Promise.all(ports.map((port) => channels.probe(project.target(port), PROBE))))
      assertServing(value, 'probe sweep')
      return ms
    }
    const first = await sweep()
    const kept = []
    for (let i = 0; i < repeat; i++) kept.push(await sweep())
    return {first, kept}
  } finally {
    close()
  }
}

/** One service: a probe on a new channel each time (connect and handshake), then on one kept channel. */
export async function probeLatencies(project, port, repeat) {
  const target = project.target(port)
  const fresh = []
  for (let i = 0; i < repeat; i++) {
    const {channels, close} = channelsFor(project)
    try {
      const {ms, value} = await timed(() => channels.probe(target, PROBE))
      assertServing([value], 'probe on a new channel')
      fresh.push(ms)
    } finally {
      close()
    }
  }
  const {channels, close} = channelsFor(project)
  const kept = []
  try {
    await channels.probe(target, PROBE) // opens the channel that the timed probes reuse
    for (let i = 0; i < repeat; i++) {
      const {ms, value} = await timed(() => channels.probe(target, PROBE))
      assertServing([value], 'probe on a kept channel')
      kept.push(ms)
    }
  } finally {
    close()
  }
  return {fresh, kept}
}

export function daemonRss(project) {
  const pid = project.daemonPid()
  if (!pid) throw new Error('no qm daemon is running to measure')
  return residentBytes(pid)
}

/** `qm stop` until it returns, then what the socket table says about the ports at that moment. */
export async function qmStop(project, ports) {
  const run = await project.qmExpect(['stop'])
  const openAtReturn = listeningAmong(ports)
  let closedAfterMs = 0
  if (openAtReturn.length > 0) {
    closedAfterMs = (await timed(() => waitFor(() => listeningAmong(ports).length === 0, {timeoutMs: 15_000, pauseMs: 2, what: 'ports to close after qm stop'}))).ms
  }
  return {ms: run.ms, openAtReturn, closedAfterMs}
}


