// Restarts and deploys that lose no Call, against services written exactly to the guide
// (Python, no SIGTERM handler, no health service) and a client that does what the platform
// does: it looks the service's row up before each new Call, opens a Call over mTLS, sends
// records for up to a second and waits for the end-of-stream frame.
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'
import {listeningPorts} from '../../src/net/socket-table.js'
import {generatePythonStubs} from '../health/support.js'
import {startTestPostgres, type TestPostgres} from '../helpers/postgres.js'
import {FIXTURES, isAlive, killGroup, makeProject, processesMentioning, waitFor, type Project} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {PYTHON} from '../requirements.js'

const GUIDE = join(FIXTURES, 'python', 'guide_server.py')
const CLIENT = join(FIXTURES, 'python', 'platform_client.py')

interface Counts {
  ok: number
  failed: number
  not_found: number
  errors: string[]
  ports: Record<string, number[]>
}

let stubs = ''

function guide(name: string, extra = '', command: string[] = [PYTHON, GUIDE]): string {
  return `  ${name}:\n    command: ${JSON.stringify(command)}\n    env: {PYTHONPATH: ${JSON.stringify(stubs)}}\n${extra}`
}

/** The platform's client, calling `names` until stopped; stop() gives its counts. */
async function platformLoad(project: Project, names: string[], workers = 6): Promise<{stop: () => Promise<Counts>}> {
  const child = spawn(PYTHON, [CLIENT, '--db', join(project.dir, '.qm', 'registry.sqlite3'), '--certs', join(project.dir, 'certs'), '--workers', String(workers), ...names], {
    env: {...process.env, PYTHONPATH: stubs},
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  onTestFinished(() => killGroup(child.pid!))
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await waitFor(() => out.includes('STARTED'), `the platform client to start (stderr: ${err})`)
  return {
    stop: async () => {
      child.kill('SIGTERM')
      await exited
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (!line) throw new Error(`the platform client printed no counts; stderr:\n${err}`)
      return JSON.parse(line) as Counts
    },
  }
}

async function statusOf(project: Project): Promise<{name: string; state: string; pid: number | null; port: number | null; drainLeftMs: number | null}[]> {
  const result = await project.qm('status', '--json')
  return JSON.parse(result.stdout).services
}

async function started(project: Project): Promise<void> {
  const result = await project.qm('start')
  expect(result.exitCode, result.stderr).toBe(0)
}

/** Calls go on for this long, so that every service has had several. */
const loadFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(lacks('python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'))('no Call lost', () => {
  beforeAll(() => {
    stubs = mkdtempSync(join(tmpdir(), 'qm-stubs-'))
    generatePythonStubs(stubs)
    return () => rmSync(stubs, {recursive: true, force: true})
  })

  it('qm rollout moves every service to a new process with no failed Call; a stop-and-start restart, for contrast, fails Calls', async () => {
    const project = await makeProject()
    project.writeManifest(guide('extractor') + guide('ocr'))
    await started(project)
    const before = await project.endpoints()
    expect(before.map((row) => row.active)).toEqual([true, true])
    const pidsBefore = (await statusOf(project)).map((row) => row.pid!)
    const load = await platformLoad(project, ['extractor', 'ocr'])
    await loadFor(1500)

    const rolled = await project.qm('rollout', '--json')
    expect(rolled.exitCode, rolled.stderr).toBe(0)
    const events = rolled.stdout.trim().split('\n').map((line) => JSON.parse(line))
    for (const name of ['extractor', 'ocr']) {
      expect(events.filter((e) => e.type === 'step' && e.name === name).map((e) => e.step)).toEqual(['reserved', 'spawned', 'healthy', 'call', 'switched', 'draining', 'old-stopped'])
    }
    const result = events.at(-1)
    expect(result.type).toBe('result')
    expect(result.results.map((r: {ok: boolean; way: string}) => [r.ok, r.way])).toEqual([
      [true, 'swap'],
      [true, 'swap'],
    ])
    await loadFor(1000)
    const counts = await load.stop()
    expect(counts.failed, counts.errors.join('\n')).toBe(0)

    // Same rows (ids and names), new ports, active; the old processes and ports are gone.
    const byId = <T extends {id: number}>(rows: T[]): T[] => [...rows].sort((a, b) => a.id - b.id)
    const after = byId(await project.endpoints())
    expect(after.map((row) => [row.id, row.name, row.active])).toEqual(byId(before).map((row) => [row.id, row.name, true]))
    for (const row of after) {
      const old = before.find((b) => b.name === row.name)!
      expect(row.port).not.toBe(old.port)
      // Calls reached both processes: the old one before the switch, the new one after.
      expect(counts.ports[row.name]).toEqual(expect.arrayContaining([old.port, row.port]))
      // A freed port is free to be given again: the next service's rollout may take it.
      if (!after.some((other) => other.port === old.port)) expect(listeningPorts().has(old.port)).toBe(false)
    }
    for (const pid of pidsBefore) expect(isAlive(pid)).toBe(false)
    // The new process wrote through a pipe of its own: the old one's log writer ended with it.
    const logWriters = () => processesMentioning(project.dir).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('perl'))
    await waitFor(() => logWriters().length === 2, 'one log writer per service')
    const statuses = await statusOf(project)
    expect(statuses.map((row) => [row.name, row.state, row.port]).sort()).toEqual(after.map((row) => [row.name, 'running', row.port]).sort())

    // The old way: each service stopped (no drain) and started on its port.
    const contrast = await platformLoad(project, ['extractor', 'ocr'])
    await loadFor(1500)
    expect((await project.qm('restart', '--now')).exitCode).toBe(0)
    await loadFor(500)
    const cut = await contrast.stop()
    console.log(`platform Calls: qm rollout ${counts.ok} ok, ${counts.failed} failed; qm restart --now ${cut.ok} ok, ${cut.failed} failed`)
    expect(cut.failed).toBeGreaterThan(0)
  })

  it('qm stop with a drain longer than the longest Call cuts no Call: the row goes inactive first, and status shows draining with the time left', async () => {
    const project = await makeProject()
    project.writeManifest(guide('extractor'))
    await started(project)
    const load = await platformLoad(project, ['extractor'])
    await loadFor(1500)
    // A client that stays connected holds the drain open until the status has been read: the
    // platform's Calls end within a second of the row going inactive, and the drain 300 ms
    // after them, while a status command takes 200 to 400 ms on a busy machine.
    const lingering = connect((await project.endpoints())[0]!.port, '127.0.0.1')
    lingering.on('error', () => {})
    onTestFinished(() => void lingering.destroy())
    await new Promise((resolve) => lingering.once('connect', resolve))
    const stopping = project.qm('stop', '--drain', '5s')
    const draining = await waitFor(async () => (await statusOf(project)).find((row) => row.state === 'draining'), 'extractor draining')
    expect(draining.drainLeftMs).toBeGreaterThan(0)
    expect(draining.drainLeftMs).toBeLessThanOrEqual(5000)
    const table = await project.qm('status')
    expect(table.stdout).toMatch(/extractor\s+draining \d+s/)
    expect((await project.endpoints())[0]!.active).toBe(false)
    lingering.destroy()
    const stopped = await stopping
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    const counts = await load.stop()
    expect(counts.failed, counts.errors.join('\n')).toBe(0)
    expect(counts.not_found).toBeGreaterThan(0)
    expect(counts.ok).toBeGreaterThan(0)
    // Its clients were done well before the 5 s were up: the drain ended when none was left.
    expect(stopped.stderr).toMatch(/draining → stopping/)
  })

  it('a new process that fails a gate is never put in: the old one serves on, the row is untouched, and no Call fails', async () => {
    const project = await makeProject()
    const manifest = (command?: string[], extra = '') => project.writeManifest(guide('extractor', `    rollout: {watch: 3s, drain_delay: 5s}\n${extra}`, command))
    manifest()
    await started(project)
    const [row] = await project.endpoints()
    const {pid} = (await statusOf(project))[0]!
    const load = await platformLoad(project, ['extractor'])
    await loadFor(1000)
    const unchanged = async () => {
      expect((await project.endpoints()).map((r) => [r.id, r.name, r.port, r.active])).toEqual([[row!.id, 'extractor', row!.port, true]])
      expect((await statusOf(project)).map((r) => [r.pid, r.state])).toEqual([[pid, 'running']])
    }

    // Health: a new version that never answers.
    manifest([PYTHON, '-c', 'import time; print("stuck loading models", flush=True); time.sleep(60)'], '    health: {start_timeout: 2s}\n')
    const unhealthy = await project.qm('rollout', 'extractor')
    expect(unhealthy.exitCode).toBe(1)
    expect(unhealthy.stderr).toMatch(/✗ extractor: the new process was not put in: not healthy within start_timeout 2000 ms: UNREACHABLE/)
    expect(unhealthy.stderr).toMatch(/\| stuck loading models/)
    await unchanged()

    // Version: the new process reports 1.0.0 where 2.0.0 is expected.
    manifest()
    const wrongVersion = await project.qm('rollout', '--expect-version', '2.0.0')
    expect(wrongVersion.exitCode).toBe(1)
    expect(wrongVersion.stderr).toMatch(/✗ extractor: the new process was not put in: it reports version 1\.0\.0, expected 2\.0\.0/)
    await unchanged()
    const counts = await load.stop()
    expect(counts.failed, counts.errors.join('\n')).toBe(0)
    expect(counts.ports.extractor).toEqual([row!.port])

    // Dies within the watch: healthy, switched to, then gone 1.5 s after its start.
    const dying = `import os, runpy, sys, threading; threading.Timer(1.5, lambda: os._exit(3)).start(); sys.argv = [${JSON.stringify(GUIDE)}] + sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")`
    manifest([PYTHON, '-c', dying])
    const crashed = await project.qm('rollout', '--json')
    expect(crashed.exitCode).toBe(1)
    const steps = crashed.stdout.trim().split('\n').map((line) => JSON.parse(line)).filter((e) => e.type === 'step').map((e) => e.step)
    expect(steps).toEqual(['reserved', 'spawned', 'healthy', 'call', 'switched', 'draining', 'rolled-back'])
    await unchanged()
    // The old process still answers through the row.
    const call = await project.qm('call', 'extractor', '--data', '[{"meta":{"id":1},"content":{"text":"still here"}}]')
    expect(call.exitCode, call.stderr).toBe(0)
  })

  it('a rollout racing ten qm register on the same range never hands one port out twice', async () => {
    const project = await makeProject()
    project.writeManifest(guide('extractor') + guide('ocr'))
    await started(project)
    const registers = Array.from({length: 10}, (_, i) => project.qm('register', `platform_${i}`))
    const [rolled, ...registered] = await Promise.all([project.qm('rollout'), ...registers])
    expect(rolled.exitCode, rolled.stderr).toBe(0)
    for (const result of registered) expect(result.exitCode, result.stderr).toBe(0)
    const rows = await project.endpoints()
    expect(rows).toHaveLength(12)
    expect(new Set(rows.map((row) => row.port)).size).toBe(12)
    expect(rows.some((row) => row.name.includes(':'))).toBe(false)
  })
})

describe.skipIf(lacks('postgresql'))('qm rollout on the PostgreSQL registry', () => {
  // Two host names the development certificate covers, both of this machine.
  const HOSTS = ['localhost', '127.0.0.1']
  let server: TestPostgres | undefined
  afterAll(() => server?.destroy())

  it('two hosts rolling out at once stay consistent: one row per name and host, distinct ports per host, every row on a port its process serves', {timeout: 120_000}, async () => {
    server = await startTestPostgres()
    const database = await server.createDatabase()
    const hosts = [await makeProject(), await makeProject()]
    const [first] = hosts[0]!.portRange
    hosts.forEach((project, i) => {
      // Two hosts on one machine: their ranges must not overlap, since they share its ports.
      const range = [first + i * 20, first + i * 20 + 19]
      const host = HOSTS[i]!
      const services = ['extractor', 'ocr'].map((name) => `  ${name}:\n    command: [${process.execPath}, ${join(FIXTURES, 'guide-call-server.mjs')}]\n    instances: 2\n`).join('')
      writeFileSync(
        join(project.dir, 'services.yaml'),
        `version: 1\nport_range: [${range[0]}, ${range[1]}]\nregistry: {url: "${server!.url({database})}", host: ${host}}\ndefaults:\n  stop_timeout: 2s\n  rollout: {watch: 500ms}\nservices:\n${services}`,
      )
    })
    for (const project of hosts) await started(project)
    const before = await server.query<{id: number; name: string; host: string; port: number}>(database, 'SELECT id, name, host, port FROM core_serviceendpoint ORDER BY id')
    const rolled = await Promise.all(hosts.map((project) => project.qm('rollout')))
    for (const result of rolled) expect(result.exitCode, result.stderr).toBe(0)
    const after = await server.query<{id: number; name: string; host: string; port: number; is_active: boolean}>(database, 'SELECT id, name, host, port, is_active FROM core_serviceendpoint ORDER BY id')
    expect(after.map((row) => [row.id, row.name, row.host, row.is_active])).toEqual(before.map((row) => [row.id, row.name, row.host, true]))
    for (const host of HOSTS) {
      const ports = after.filter((row) => row.host === host).map((row) => row.port)
      expect(new Set(ports).size).toBe(4)
    }
    for (const [i, project] of hosts.entries()) {
      const host = HOSTS[i]!
      const serving = new Map((await statusOf(project)).map((row) => [row.name, row]))
      for (const row of after.filter((r) => r.host === host)) {
        expect(serving.get(row.name)).toMatchObject({state: 'running', port: row.port})
        expect(before.find((b) => b.id === row.id)!.port).not.toBe(row.port)
      }
    }
  })
})

describe('qm rollout of a service with a fixed port', () => {
  it('is refused, changing nothing; with --allow-downtime it restarts in place after a drain', async () => {
    const project = await makeProject()
    const port = project.portRange[0] + 7
    project.writeManifest(`  fixed:\n    command: [${process.execPath}, ${join(FIXTURES, 'guide-call-server.mjs')}]\n    port: ${port}\n`)
    await started(project)
    const {pid} = (await statusOf(project))[0]!
    const refused = await project.qm('rollout', 'fixed')
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toContain(`✗ fixed: it has the fixed port ${port}: a second process cannot listen beside the first, so the row cannot move`)
    expect(refused.stderr).toContain('qm rollout --allow-downtime fixed')
    expect((await statusOf(project)).map((row) => [row.pid, row.port])).toEqual([[pid, port]])
    const inPlace = await project.qm('rollout', 'fixed', '--allow-downtime')
    expect(inPlace.exitCode, inPlace.stderr).toBe(0)
    expect(inPlace.stdout).toMatch(new RegExp(`✓ fixed rolled out: restarted in place on port ${port} \\(pid \\d+\\)`))
    const [after] = await statusOf(project)
    expect(after!.pid).not.toBe(pid)
    expect(after!.port).toBe(port)
  })

  it('says plainly when no daemon runs', async () => {
    const project = await makeProject()
    project.writeManifest(`  fixed:\n    command: [${process.execPath}, ${join(FIXTURES, 'guide-call-server.mjs')}]\n`)
    const result = await project.qm('rollout')
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain('no qm daemon runs for this manifest: nothing serves, so nothing rolls out')
  })
})
