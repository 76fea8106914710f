// qm under the conditions a platform really runs in: services that hang instead of dying,
// qm's own credentials going wrong, a damaged state file, health right after a restart or
// an adoption, a terminal that hangs up under `qm up`, and Ctrl-C on a terminal. Real
// processes, real signals, a real pseudo-terminal.
import {readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {createCertificateSet} from '../../src/certs/issue.js'
import {findPortHolders} from '../../src/net/port-holders.js'
import {ChildRecords} from '../../src/registry/child-records.js'
import {isAlive, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {runOnPty} from '../helpers/pty.js'
import {QM_BIN} from '../helpers/run-qm.js'
import type {InstanceStatus} from '../../src/supervisor/states.js'

// A status row as `qm status --json` gives it: the daemon's own type, not a copy.
type Row = InstanceStatus

async function rows(project: Project, ...names: string[]): Promise<Row[]> {
  const result = await project.qm('status', '--json', ...names)
  return JSON.parse(result.stdout).services as Row[]
}

async function row(project: Project, name: string): Promise<Row> {
  return (await rows(project, name))[0]!
}

function listening(port: number): boolean {
  return findPortHolders(port).some((holder) => holder.state === 'LISTEN')
}

describe('a service that hangs', () => {
  it('is restarted after failure_threshold failed probes without waiting out stop_timeout: SIGCONT follows SIGTERM, and liveness gives a short deadline', async () => {
    const project = await makeProject()
    project.writeManifest(service('hung', 'guide-call-server.mjs', '    stop_timeout: 10s\n    health: {interval: 1s, timeout: 1s, failure_threshold: 2}\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await row(project, 'hung')
    process.kill(before.pid!, 'SIGSTOP')
    // Two failed probes take about 2 to 3 s; a full stop_timeout would add 10 s more.
    const after = await waitFor(async () => {
      const now = await row(project, 'hung')
      return now.state === 'running' && now.pid !== before.pid && now.health?.status === 'SERVING' ? now : undefined
    }, 'a new process answering', 8_000)
    expect(after.restarts).toBe(1)
    expect(isAlive(before.pid!)).toBe(false)
    const log = readFileSync(join(project.dir, '.qm', 'daemon.log'), 'utf8')
    expect(log).toMatch(/hung: unhealthy → stopping: 2 failed probes in a row \(TIMEOUT/)
  })
})

describe("qm's own credentials", () => {
  it('marks services unhealthy and never restarts them when its client pair is replaced by another CA’s, and sees the files change back at once', async () => {
    const project = await makeProject()
    project.writeManifest(service('svc_a', 'guide-call-server.mjs') + service('svc_b', 'health-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await rows(project)
    const certs = join(project.dir, 'certs')
    const original = {cert: readFileSync(join(certs, 'client.crt')), key: readFileSync(join(certs, 'client.key'))}
    const other = await createCertificateSet()
    writeFileSync(join(certs, 'client.crt'), other.client.certPem)
    writeFileSync(join(certs, 'client.key'), other.client.keyPem, {mode: 0o600})

    const unhealthy = await waitFor(async () => {
      const all = await rows(project)
      return all.every((r) => r.state === 'unhealthy' && r.health?.cause === 'qm-credentials') ? all : undefined
    }, 'both services unhealthy for qm-credentials', 10_000)
    expect(unhealthy[0]!.health!.reason).toMatch(/the server rejected the client certificate/)
    // Well past failure_threshold (2) probes at 500 ms: no restart, same processes.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const later = await rows(project)
    expect(later.map((r) => [r.name, r.pid, r.restarts])).toEqual(before.map((r) => [r.name, r.pid, 0]))
    const status = await project.qm('status')
    expect(status.exitCode).toBe(3)
    expect(status.stdout).toContain("qm's own credentials fail for svc_a, svc_b: the server rejected the client certificate")
    expect(readFileSync(join(project.dir, '.qm', 'daemon.log'), 'utf8')).toMatch(/svc_a: qm's own credentials fail: .*not restarted, since a restart cannot fix them/)

    writeFileSync(join(certs, 'client.crt'), original.cert)
    writeFileSync(join(certs, 'client.key'), original.key, {mode: 0o600})
    const healed = await waitFor(async () => {
      const all = await rows(project)
      return all.every((r) => r.state === 'running' && r.health?.status === 'SERVING') ? all : undefined
    }, 'both services SERVING again with the restored pair', 5_000)
    expect(healed.map((r) => [r.pid, r.restarts])).toEqual(before.map((r) => [r.pid, 0]))
  })
})

describe('health belongs to one process', () => {
  it('shows no health for a process that has not been probed yet, after a kill -9', async () => {
    const project = await makeProject()
    // Its restart binds only once the gate file exists: it stays in starting for as long as
    // the test needs to see it there, however slow a qm status is on a loaded machine.
    const gate = join(project.dir, 'bind-now')
    project.writeManifest(service('svc', 'guide-call-server.mjs', `    env: {READY_WHEN_FILE: ${JSON.stringify(gate)}}\n`))
    writeFileSync(gate, '')
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await row(project, 'svc')
    rmSync(gate)
    process.kill(before.pid!, 'SIGKILL')
    const seen: Row[] = []
    await waitFor(async () => {
      const now = await row(project, 'svc')
      seen.push(now)
      return now.state === 'starting' && now.pid !== before.pid
    }, 'svc starting again')
    writeFileSync(gate, '')
    await waitFor(async () => {
      const now = await row(project, 'svc')
      seen.push(now)
      return now.state === 'running' && now.pid !== before.pid
    }, 'svc running again')
    const notRunning = seen.filter((r) => r.state !== 'running')
    expect(notRunning.map((r) => r.state)).toContain('starting')
    expect(notRunning.filter((r) => r.health !== null)).toEqual([])
  })

  it('probes every adopted service before qm start returns, so qm start && qm status passes', async () => {
    const project = await makeProject()
    project.writeManifest(service('svc_a', 'guide-call-server.mjs') + service('svc_b', 'health-server.mjs', '    health: {interval: 30s}\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await rows(project)
    expect((await project.qm('shutdown', '--keep-services')).exitCode).toBe(0)
    // What the first daemon's probes learnt, for the next one: svc_a has no health service.
    const records = ChildRecords.openReadOnly(join(project.dir, '.qm', 'state.sqlite3'))!
    expect(records.all().map((r) => [r.name, r.noHealthService])).toEqual([['svc_a', true], ['svc_b', false]])
    records.close()
    expect((await project.qm('start')).exitCode).toBe(0)
    const status = await project.qm('status', '--json')
    expect(status.exitCode, status.stdout).toBe(0)
    expect(JSON.parse(status.stdout).services.map((r: Row) => [r.name, r.pid, r.health?.status])).toEqual(before.map((r) => [r.name, r.pid, 'SERVING']))
  })
})

describe('a damaged state file', () => {
  it('is named by qm status and qm doctor, and qm start moves it aside, rebuilds the records from the kernel and the registry, and adopts without a second copy', async () => {
    const project = await makeProject()
    project.writeManifest(service('svc_a', 'guide-call-server.mjs') + service('svc_b', 'guide-call-server.mjs', '    instances: 2\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = await rows(project)
    expect((await project.qm('shutdown', '--keep-services')).exitCode).toBe(0)
    const stateDir = join(project.dir, '.qm')
    for (const suffix of ['-wal', '-shm']) rmSync(join(stateDir, `state.sqlite3${suffix}`), {force: true})
    writeFileSync(join(stateDir, 'state.sqlite3'), randomBytes(8192))
    const file = join(stateDir, 'state.sqlite3')

    const status = await project.qm('status')
    expect(status).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `error qm's state file ${file} is damaged: file is not a database\nhint  qm start moves it aside and rebuilds the records from the running processes and the registry; the services go on running meanwhile`,
    })
    const doctor = JSON.parse((await project.qm('doctor', '--json')).stdout).checks.find((c: {name: string}) => c.name === 'daemon-files')
    expect(doctor).toMatchObject({status: 'FAIL', message: `qm's state file ${file} is damaged: file is not a database`})

    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const after = await rows(project)
    expect(after.map((r) => [r.name, r.state, r.pid, r.port])).toEqual(before.map((r) => [r.name, 'running', r.pid, r.port]))
    for (const r of after) expect(findPortHolders(r.port!).filter((h) => h.state === 'LISTEN').map((h) => h.pid)).toEqual([r.pid])
    expect(readdirSync(stateDir).filter((name) => name.startsWith('state.sqlite3.damaged-'))).toHaveLength(1)
    expect(readFileSync(join(stateDir, 'daemon.log'), 'utf8')).toContain('rebuilt the records of 3 running service(s) from the kernel\'s tables and the registry: svc_a, svc_b, svc_b_2')
  })
})

describe('a terminal that hangs up', () => {
  it('stops every service of qm up gracefully when its terminal closes (SIGHUP), leaving no orphan', async () => {
    const project = await makeProject()
    project.writeManifest(service('svc_a', 'guide-call-server.mjs') + service('svc_b', 'guide-call-server.mjs'))
    const up = runOnPty([process.execPath, QM_BIN, 'up'], {cwd: project.dir})
    const running = await waitFor(async () => {
      const all = await rows(project).catch(() => [])
      return all.length === 2 && all.every((r) => r.state === 'running') ? all : undefined
    }, 'both services running under qm up')
    // The terminal goes away as when a window or an ssh session closes: its master side
    // closes, and the kernel sends SIGHUP to the session.
    process.kill(up.child.pid!, 'SIGKILL')
    await waitFor(() => running.every((r) => !isAlive(r.pid!) && !listening(r.port!)), 'both services gone and their ports closed', 15_000)
    await waitFor(() => project.daemonPid() === undefined || !isAlive(project.daemonPid()!), 'qm up to exit')
  })
})

describe('qm up on a terminal', () => {
  it('keeps stopping gracefully through a second Ctrl-C, saying so, and exits 0 with nothing left running', async () => {
    const project = await makeProject()
    // It ignores SIGTERM, so its stop takes the whole stop_timeout: time for a second Ctrl-C.
    project.writeManifest(service('deaf', 'stubborn-server.mjs', '    stop_timeout: 2s\n') + service('svc_b', 'guide-call-server.mjs'))
    const up = runOnPty([process.execPath, QM_BIN, 'up'], {cwd: project.dir})
    const running = await waitFor(async () => {
      const all = await rows(project).catch(() => [])
      return all.length === 2 && all.every((r) => r.state === 'running') ? all : undefined
    }, 'both services running under qm up')
    await up.waitFor(/deaf +\| CHILD pid=(\d+)/)
    const grandchild = Number(/deaf +\| CHILD pid=(\d+)/.exec(up.text())![1])
    up.type('\u0003')
    await up.waitFor(/deaf +\| qm: deaf: running → stopping/)
    up.type('\u0003')
    await up.waitFor(/qm: SIGINT: still stopping the services gracefully/)
    expect(await up.exited).toBe(0)
    for (const r of running) {
      expect(isAlive(r.pid!)).toBe(false)
      expect(listening(r.port!)).toBe(false)
    }
    // Killed with its group; the kernel may take a moment to reap it.
    await waitFor(() => !isAlive(grandchild), 'the service\'s own child gone')
    expect(up.text()).toMatch(/deaf +\| qm: deaf: stopping → stopped/)
  })
})

describe('start on a terminal', () => {
  it('ends, with exit 1 and the reason, for a service added while the daemon runs that exits at once', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    project.writeManifest(service('echo', 'guide-call-server.mjs') + service('broken', 'exit-at-once.mjs'))
    const start = runOnPty([process.execPath, QM_BIN, 'start', 'broken'], {cwd: project.dir})
    expect(await start.exited).toBe(1)
    // One account: the live line ends in the reason, the log lines follow it.
    expect(start.text()).toMatch(/✖ broken\n\s+› exited with code 3 before it became healthy\n/)
    expect(start.text()).toContain('broken: last 1 log lines:')
    expect(start.text()).toContain('| exit-at-once: cannot start (on purpose)')
  })

  it('says what Ctrl-C leaves behind and exits 130; the service goes on starting in the daemon', async () => {
    const project = await makeProject()
    project.writeManifest(service('slow', 'guide-call-server.mjs', '    env: {READY_DELAY_MS: "4000"}\n'))
    const start = runOnPty([process.execPath, QM_BIN, 'start', 'slow'], {cwd: project.dir})
    await waitFor(async () => (await row(project, 'slow').catch(() => undefined))?.state === 'starting', 'slow starting')
    start.type('\u0003')
    expect(await start.exited).toBe(130)
    expect(start.text()).toContain('error interrupted: slow is still starting in the daemon\nhint  the daemon goes on with it; qm stop slow stops it, qm status slow shows how it goes')
    expect(start.text()).not.toMatch(/TypeError|at .*\.js:\d+/)
    await waitFor(async () => (await row(project, 'slow')).state === 'running', 'slow running in the daemon after all')
  })
})
