// A fleet of hosts on one machine: network namespaces for a platform and three hosts on one
// bridge. The platform runs the shared PostgreSQL; each host runs its own qm daemon, with
// registry.host its own address, and guide-style Python services (no health service, no
// SIGTERM handler). From the platform, a client finds every service in the shared table and
// completes a Call over mTLS; two hosts start at the same moment; one host dies outright and
// `qm endpoints --all-hosts --check` finds its stale rows and marks them; PostgreSQL is down
// while a host boots, and the rows agree once it is back. Needs root (ip netns).
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createCertificateSet, writeCertificateSet} from '../../src/certs/issue.js'
import {REGISTRY_RETRY_MS} from '../../src/supervisor/registry-writes.js'
import {generatePythonStubs} from '../health/support.js'
import {makeNetwork, type Network, type NetworkHost} from '../helpers/network-namespaces.js'
import {startTestPostgres, type TestPostgres} from '../helpers/postgres.js'
import {FIXTURES, killGroup, waitFor} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {QM_BIN, type QmResult, type StatusRow} from '../helpers/run-qm.js'
import {PYTHON} from '../requirements.js'

const GUIDE = join(FIXTURES, 'python', 'guide_server.py')
const SERVICES = ['alpha', 'beta', 'gamma'] as const
const HOSTS = ['h1', 'h2', 'h3'] as const
const LIVENESS_INTERVAL_MS = 1000
const CHECK_TIMEOUT_S = 1

interface Row {
  name: string
  host: string
  port: number
  is_active: boolean
}

type ServiceStatus = StatusRow

interface Host {
  name: string
  net: NetworkHost
  dir: string
}

const NEEDS = lacks('postgresql', 'python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources', 'iproute2') || process.getuid?.() !== 0

let network: Network | undefined
let server: TestPostgres | undefined
let database = ''
let work = ''
/** Pids of processes the test starts itself inside a host (not qm's). */
const holders: number[] = []
let platform: Host
let hosts: Host[] = []
const startedMs = performance.now()
const phases: string[] = []

function phase(what: string, sinceMs: number): void {
  phases.push(`${what}: ${((performance.now() - sinceMs) / 1000).toFixed(1)} s`)
}

async function qm(host: Host, args: string[], timeoutMs = 120_000): Promise<QmResult> {
  const [command, ...rest] = network!.inside(host.net, [process.execPath, QM_BIN, ...args])
  const result = await execa(command!, rest, {cwd: host.dir, env: {NO_COLOR: '1'}, extendEnv: true, reject: false, stdin: 'ignore', timeout: timeoutMs})
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

async function rows(): Promise<Row[]> {
  return server!.query<Row>(database, 'SELECT name, host, port, is_active FROM core_serviceendpoint ORDER BY host, port')
}

async function status(host: Host): Promise<{services: ServiceStatus[]; registry: {pendingWrites: number; lastError: string | null} | null}> {
  const result = await qm(host, ['status', '--json'])
  return JSON.parse(result.stdout)
}

/** The platform's kind of client: the row from the shared table, then a Call over mTLS to that host. */
async function callFromPlatform(row: Pick<Row, 'host' | 'port' | 'name'>): Promise<void> {
  const result = await qm(platform, ['call', `${row.host}:${row.port}`, '--timeout', '10s'])
  expect({call: `${row.name} on ${row.host}:${row.port}`, exitCode: result.exitCode, stderr: result.stderr}).toMatchObject({exitCode: 0, stderr: expect.stringMatching(/^1 frame\(s\) from /)})
  expect(JSON.parse(result.stdout.split('\n').at(-1)!)).toMatchObject({eos: true})
}

async function writeProject(dir: string, registryHost: string, certs: Awaited<ReturnType<typeof createCertificateSet>>, stubs: string, names: readonly string[]): Promise<void> {
  mkdirSync(dir, {recursive: true})
  const url = server!.url({database})
  const services = names.map((name) => `  ${name}:\n    command: [${PYTHON}, ${GUIDE}]\n    env: {PYTHONPATH: ${JSON.stringify(stubs)}}\n`).join('')
  writeFileSync(
    join(dir, 'services.yaml'),
    `version: 1\nregistry: {url: "${url}", host: "${registryHost}"}\ndefaults:\n  stop_timeout: 2s\n  health: {interval: ${LIVENESS_INTERVAL_MS}ms, timeout: 2s, start_timeout: 40s, failure_threshold: 3}\nservices:\n${services}`,
  )
  await writeCertificateSet(join(dir, 'certs'), certs)
}

/** The daemon and every service of a host, by pid and process group. */
function killHost(host: Host, servicePids: number[]): void {
  let daemon: number | undefined
  try {
    daemon = Number(readFileSync(join(host.dir, '.qm', 'daemon.pid'), 'utf8'))
  } catch {
    daemon = undefined // never started, or gone with its pid file
  }
  for (const pid of [...(daemon ? [daemon] : []), ...servicePids]) killGroup(pid)
}

describe.skipIf(NEEDS)('a fleet of three hosts and a platform, in network namespaces', () => {
  beforeAll(async () => {
    const setupMs = performance.now()
    network = makeNetwork(['platform', ...HOSTS])
    const [platformNet, ...hostNets] = network.hosts
    server = await startTestPostgres({namespace: {name: platformNet!.namespace, address: platformNet!.address, trustedNetwork: network.cidr}})
    database = await server.createDatabase()
    work = mkdtempSync(join(tmpdir(), 'qm-fleet-'))
    const stubs = join(work, 'stubs')
    mkdirSync(stubs)
    generatePythonStubs(stubs)
    // One set for the fleet, as `qm certs init --host A --host B --host C` makes it: qm start
    // refuses a server certificate that does not name the host's registry.host, since a
    // client may check the address it dials. qm's own probes dial the address and check the
    // name health.server_name (localhost), which the set names too.
    const certs = await createCertificateSet({hosts: hostNets.map((net) => net.address)})
    platform = {name: 'platform', net: platformNet!, dir: join(work, 'platform')}
    // The platform's own manifest, for its registry and certificates; its service never runs.
    await writeProject(platform.dir, 'platform', certs, stubs, ['console'])
    hosts = HOSTS.map((name, index) => ({name, net: hostNets[index]!, dir: join(work, name)}))
    for (const host of hosts) await writeProject(host.dir, host.net.address, certs, stubs, SERVICES)
    phase('set-up (namespaces, PostgreSQL, stubs, certificates)', setupMs)
  }, 120_000)

  afterAll(async () => {
    try {
      for (const pid of holders) killGroup(pid)
      for (const host of hosts) {
        let pids: number[] = []
        try {
          pids = (await status(host)).services.flatMap((s) => (s.pid === null ? [] : [s.pid]))
        } catch {
          pids = [] // no daemon and no records: nothing of qm's to kill here
        }
        killHost(host, pids)
      }
      try {
        server?.destroy()
      } catch (error) {
        // Its namespace goes next, with every process in it; the folder is removed below.
        console.error(`PostgreSQL did not stop cleanly: ${(error as Error).message}`)
      }
    } finally {
      network?.remove()
      if (work) rmSync(work, {recursive: true, force: true})
      phases.push(`whole file: ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
      console.log(`fleet test times:\n  ${phases.join('\n  ')}`)
    }
  }, 60_000)

  it('registers every host in the shared table, two hosts at the same moment, and the platform completes a Call to each service over mTLS', {timeout: 300_000}, async () => {
    const [first, second, third] = hosts as [Host, Host, Host]
    let sinceMs = performance.now()
    const alone = await qm(first, ['start'])
    expect(alone.exitCode, alone.stderr).toBe(0)
    phase(`${first.name} starts ${SERVICES.length} services`, sinceMs)

    // Another program of the second host holds the lowest port: allocation there must skip
    // it, though registry.host is an address rather than a name qm knew as its own.
    const [holderCommand, ...holderArgs] = network!.inside(second.net, [PYTHON, '-c', 'import socket, time\ns = socket.socket()\ns.bind(("0.0.0.0", 50051))\ns.listen()\nprint("READY", flush=True)\ntime.sleep(3600)'])
    const holder = execa(holderCommand!, holderArgs, {detached: true, reject: false, stdin: 'ignore'})
    holders.push(holder.pid!)
    let holderSaid = ''
    holder.stdout!.on('data', (chunk: Buffer) => (holderSaid += chunk.toString()))
    await waitFor(() => holderSaid.includes('READY'), 'the port holder to listen on 50051')

    sinceMs = performance.now()
    const together = await Promise.all([qm(second, ['start']), qm(third, ['start'])])
    for (const result of together) expect(result.exitCode, result.stderr).toBe(0)
    phase(`${second.name} and ${third.name} start at the same moment`, sinceMs)

    const table = await rows()
    expect(table).toHaveLength(HOSTS.length * SERVICES.length)
    for (const host of hosts) {
      const own = table.filter((row) => row.host === host.net.address)
      expect(own.some((row) => row.port === 50051), `a row of ${host.name} on the port its other program holds`).toBe(host !== second)
      const running = (await status(host)).services
      expect(running.map((s) => [s.name, s.state, s.health?.status])).toEqual(SERVICES.map((name) => [name, 'running', 'SERVING']))
      // Each host's rows: every service once, on the port it runs on, distinct within the host.
      expect(own.map((row) => [row.name, row.port, row.is_active]).sort()).toEqual(running.map((s) => [s.name, s.port, true]).sort())
      expect(new Set(own.map((row) => row.port)).size).toBe(SERVICES.length)
    }

    sinceMs = performance.now()
    const listing = await qm(platform, ['endpoints', '--all-hosts', '--json'])
    expect(listing.exitCode, listing.stderr).toBe(0)
    const found = JSON.parse(listing.stdout).endpoints as Row[]
    expect(found.map((row) => row.host).sort()).toEqual(table.map((row) => row.host).sort())
    // A client per host at once, each calling that host's services one after another.
    await Promise.all(hosts.map(async (host) => {
      for (const row of found.filter((r) => r.host === host.net.address)) await callFromPlatform(row)
    }))
    phase(`the platform finds and calls all ${found.length} services`, sinceMs)

    sinceMs = performance.now()
    const check = await qm(platform, ['endpoints', '--all-hosts', '--check', '--json'])
    expect(check.exitCode, check.stderr).toBe(0)
    expect(JSON.parse(check.stdout).counts).toEqual({passing: HOSTS.length * SERVICES.length, stale: 0, failing: 0, unknown: 0, inactive: 0})
    phase('qm endpoints --all-hosts --check, every row passing', sinceMs)
  })

  it('a host that dies leaves the others untouched, and --check finds its rows stale and --mark-inactive marks them and nothing else', {timeout: 300_000}, async () => {
    const [first, second, dead] = hosts as [Host, Host, Host]
    const before = await rows()
    const living = [first, second]
    const livingBefore = await Promise.all(living.map(status))
    const deadServices = (await status(dead)).services

    // Outright: SIGKILL to the daemon's and the services' process groups, then off the network.
    killHost(dead, deadServices.flatMap((s) => (s.pid === null ? [] : [s.pid])))
    await waitFor(() => network!.pids(dead.net).length === 0, `no process left in ${dead.net.namespace} (left: ${network!.pids(dead.net).join(', ')})`, 10_000)
    await execa('ip', ['link', 'set', dead.net.link, 'down'])

    // Several liveness intervals: long enough for a daemon that noticed anything to act.
    await new Promise((resolve) => setTimeout(resolve, 3 * LIVENESS_INTERVAL_MS))
    for (const [index, host] of living.entries()) {
      const now = await status(host)
      expect(now.services.map((s) => [s.name, s.state, s.pid, s.restarts, s.health?.status])).toEqual(
        livingBefore[index]!.services.map((s) => [s.name, 'running', s.pid, 0, 'SERVING']),
      )
    }
    expect(await rows()).toEqual(before)
    for (const row of before.filter((r) => r.host !== dead.net.address)) await callFromPlatform(row)

    let sinceMs = performance.now()
    const check = await qm(platform, ['endpoints', '--all-hosts', '--check', '--timeout', `${CHECK_TIMEOUT_S}s`])
    const checkS = (performance.now() - sinceMs) / 1000
    phase('qm endpoints --all-hosts --check with one host dead', sinceMs)
    expect(check.exitCode, check.stderr).toBe(3)
    const lines = check.stdout.split('\n')
    for (const row of before) {
      const line = lines.find((l) => l.startsWith(`${row.host} `) && l.includes(` ${row.name} `))
      expect(line, `the line of ${row.name} on ${row.host}`).toMatch(row.host === dead.net.address ? /\sACTIVE\s+(TIMEOUT|UNREACHABLE) [\d.]+ ms\s+STALE\s/ : /\sACTIVE\s+SERVING [\d.]+ ms\s+passing\s/)
    }
    expect(lines.at(-1)).toBe(
      `${before.length} row(s) of every host probed from here (timeout ${CHECK_TIMEOUT_S}s): ${2 * SERVICES.length} passing, ${SERVICES.length} stale (active, nothing answers), 0 failing (answer, not serving), 0 inactive`,
    )
    // The dead host's probes run at once, each bounded: the whole check is the timeout and
    // qm's own start, not the timeout times the rows.
    expect(checkS).toBeLessThan(CHECK_TIMEOUT_S * SERVICES.length + 6)
    expect(await rows()).toEqual(before)

    sinceMs = performance.now()
    const marked = await qm(platform, ['endpoints', '--all-hosts', '--check', '--timeout', `${CHECK_TIMEOUT_S}s`, '--mark-inactive', '--yes'])
    phase('qm endpoints --all-hosts --check --mark-inactive --yes', sinceMs)
    expect(marked.exitCode, marked.stderr).toBe(3)
    const deadRows = before.filter((row) => row.host === dead.net.address)
    expect(marked.stdout.split('\n').slice(-(deadRows.length + 1))).toEqual([
      ...deadRows.map((row) => `marked inactive: ${row.name} on ${row.host}:${row.port}`),
      `${deadRows.length} row(s) marked inactive`,
    ])
    expect(await rows()).toEqual(before.map((row) => (row.host === dead.net.address ? {...row, is_active: false} : row)))

    const after = await qm(platform, ['endpoints', '--all-hosts', '--check', '--timeout', `${CHECK_TIMEOUT_S}s`, '--json'])
    expect(after.exitCode, after.stderr).toBe(0)
    expect(JSON.parse(after.stdout).counts).toEqual({passing: 2 * SERVICES.length, stale: 0, failing: 0, unknown: 0, inactive: SERVICES.length})
  })

  it('a host whose qm restarts while PostgreSQL is down brings its services back on their known ports, says the registry is behind, and the rows agree once the database is back', {timeout: 300_000}, async () => {
    const [host] = hosts as [Host]
    const before = (await rows()).filter((row) => row.host === host.net.address)
    const running = (await status(host)).services
    // One service stopped first, its row marked inactive while the database answers: its
    // row turning active again later shows the catch-up, not rows that never changed.
    const stopped = await qm(host, ['stop', 'beta'])
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    expect((await rows()).filter((row) => row.host === host.net.address)).toEqual(before.map((row) => (row.name === 'beta' ? {...row, is_active: false} : row)))

    server!.stop()
    let sinceMs = performance.now()
    const shutdown = await qm(host, ['shutdown'])
    expect(shutdown.exitCode, shutdown.stderr).toBe(0)
    phase('qm shutdown with PostgreSQL down', sinceMs)
    for (const service of running) expect(() => process.kill(service.pid!, 0), `${service.name} stopped`).toThrow()
    // The rows could not be marked inactive: qm says so, and which rows still say active.
    const names = SERVICES.filter((name) => name !== 'beta').join(', ')
    expect(shutdown.stderr.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^registry behind: the daemon could not write 2 is_active change\\(s\\) before it stopped \\(cannot reach the registry, .*: connection refused\\): ${names}$`)),
      `the rows of ${names} on host ${host.net.address} still say active: once the database answers, qm start here writes them, or qm endpoints --check --mark-inactive from any host marks them`,
    ])

    sinceMs = performance.now()
    const started = await qm(host, ['start'])
    phase('qm start with PostgreSQL down', sinceMs)
    expect(started.exitCode, `${started.stdout}\n${started.stderr}`).toBe(0)
    expect(started.stderr.split('\n').filter((line) => line.startsWith('registry behind'))).toEqual([
      expect.stringMatching(
        /^registry behind: \d+ is_active change\(s\) not written yet \(cannot reach the registry, .*: connection refused\); the rows say what they said before, and the daemon writes the changes when the database answers$/,
      ),
    ])
    const behind = await status(host)
    expect(behind.services.map((s) => [s.name, s.state, s.port, s.health?.status])).toEqual(running.map((s) => [s.name, 'running', s.port, 'SERVING']))
    expect(behind.registry?.lastError).toMatch(/^cannot reach the registry, database ".*" on [\d.]+:\d+ as user postgres: connection refused$/)
    const said = await qm(host, ['status'])
    expect(said.stdout.split('\n').at(-1)).toMatch(/^registry behind: \d+ is_active change\(s\) not written yet \(cannot reach the registry, .*\); the daemon writes them when the database answers, and services run on$/)
    for (const row of before) await callFromPlatform(row)

    server!.start()
    sinceMs = performance.now()
    const agreed = await waitFor(
      async () => {
        if ((await status(host)).registry?.pendingWrites !== 0) return undefined
        const now = (await rows()).filter((row) => row.host === host.net.address)
        return now.every((row) => row.is_active) ? now : undefined
      },
      'the rows active and no change left to write once PostgreSQL is back',
      LIVENESS_INTERVAL_MS + REGISTRY_RETRY_MS + 10_000,
    )
    phase('the rows agree after PostgreSQL is back', sinceMs)
    expect(agreed).toEqual(before.map((row) => ({...row, is_active: true})))
    expect((await status(host)).registry).toEqual({pendingWrites: 0, lastError: null})
  })
})
