// The units `qm export systemd` writes, run by a real systemd (252, Debian 12) booted in a
// container: three guide-style Python services (no SIGTERM handler, no health service)
// started by the target, killed, hung, stopped, and one that never becomes ready. The
// container shares the host's network and the project folder, so the checks from outside
// (qm health over mTLS, the SQLite registry, TCP connects) see what the units did.
import {copyFileSync, readdirSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {FIXTURES, workerPortRange} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {REPO} from '../helpers/services.js'
import {debianRoot} from './debian-root.js'
import {makeLiveProject, portOpen, pythonGuideCommand, type LiveProject} from './live-project.js'
import {bootSystemd, type LiveSystemd} from './systemd-container.js'

const SERVICES = ['ledger', 'store', 'report'] as const
const unit = (name: string) => `qm-${name}.service`
const INTERVAL_MS = 1000
const FAILURE_THRESHOLD = 3
const RESTART_SEC_MS = 2000

function manifestText(stubs: string): string {
  const [first, last] = workerPortRange()
  const env = `    env: {PYTHONPATH: ${JSON.stringify(stubs)}, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1"}\n`
  return [
    'version: 1',
    `port_range: [${first}, ${last}]`,
    'defaults:',
    '  stop_timeout: 3s',
    `  health: {interval: ${INTERVAL_MS}ms, timeout: 1s, start_timeout: 20s, failure_threshold: ${FAILURE_THRESHOLD}}`,
    `  backoff: {initial: ${RESTART_SEC_MS}ms, max: ${RESTART_SEC_MS}ms, reset_after: 30s, max_failures: 5}`,
    'services:',
    '  ledger:',
    `    command: ${pythonGuideCommand(FIXTURES)}`,
    env,
    '  store:',
    `    command: ${pythonGuideCommand(FIXTURES)}`,
    '    depends_on: [ledger]',
    env,
    '  report:',
    `    command: ${pythonGuideCommand(FIXTURES)}`,
    // Fatal at the second failure in a row: the start limit is the thing under test.
    `    backoff: {initial: 1s, max: 1s, reset_after: 30s, max_failures: 2}`,
    env,
    // Runs, but never listens: its readiness (qm health --wait) fails after start_timeout.
    '  deaf:',
    `    command: [/usr/bin/python3, -c, "import time; time.sleep(3600)"]`,
    '    restart: never',
    '    health: {start_timeout: 3s}',
    '',
  ].join('\n').replaceAll('\n\n', '\n')
}

/** CLOCK_MONOTONIC in µs: the clock of systemd's *TimestampMonotonic properties (no time namespace here). */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

const needs = ['debootstrap', 'systemd-container', 'python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'] as const

describe.skipIf(lacks(...needs))('exported units under a live systemd', () => {
  let project: LiveProject
  let container: LiveSystemd | undefined
  const ports = new Map<string, number>()

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the live systemd test runs as root: debootstrap makes the root file system and systemd-nspawn boots it')
    const root = await debianRoot({log: (line) => process.stderr.write(`${line}\n`)})
    if (root.builtInMs !== undefined) process.stderr.write(`debootstrap made the root in ${root.builtInMs} ms\n`)
    project = await makeLiveProject(manifestText)
    for (const [names, name] of [[SERVICES, 'live'], [['deaf'], 'deaf']] as const) {
      const exported = await project.qm('export', 'systemd', ...names, '--project', name, '--out', join(project.dir, `units-${name}`))
      expect(exported.exitCode, exported.stderr).toBe(0)
    }
    for (const row of await project.rows()) ports.set(row.name, row.port)

    const modules = realpathSync(join(REPO, 'node_modules'))
    const startedMs = performance.now()
    container = await bootSystemd({
      root: root.dir,
      readOnly: ['/usr/bin/node', REPO, ...(modules.startsWith(REPO) ? [] : [modules])],
      readWrite: [project.dir],
    })
    process.stderr.write(`the container booted in ${Math.round(performance.now() - startedMs)} ms\n`)
    for (const folder of ['units-live', 'units-deaf']) {
      for (const name of readdirSync(join(project.dir, folder))) copyFileSync(join(project.dir, folder, name), container.hostPathOf(`/etc/systemd/system/${name}`))
    }
    expect(await container.systemctl('daemon-reload')).toMatchObject({exitCode: 0})
  }, 400_000)

  afterAll(async () => {
    await container?.shutdown()
    project?.remove()
  })

  const live = () => container!

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const startedMs = performance.now()
    let last: unknown
    while (performance.now() - startedMs < timeoutMs) {
      last = await check().catch((error: unknown) => error)
      if (last !== undefined && !(last instanceof Error)) return last as T
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new Error(`expected ${what} within ${timeoutMs} ms; last seen: ${last instanceof Error ? last.message : lastState}`)
  }

  /** The end of a unit's journal, for a failure message. */
  async function tail(name: string, lines = 25) {
    return (await live().journal(name)).split('\n').slice(-lines).join('\n')
  }

  /** A systemctl command that must succeed; the failure says what it printed. */
  async function systemctl(...args: string[]) {
    const result = await live().systemctl(...args)
    expect(result.exitCode, `systemctl ${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(0)
    return result
  }

  /** The last unit state read, for a failure message. */
  let lastState = ''
  async function state(name: string) {
    const now = await live().show(unit(name), 'ActiveState', 'SubState', 'Result', 'MainPID', 'NRestarts', 'ExecMainStartTimestampMonotonic', 'ActiveEnterTimestampMonotonic')
    lastState = `${unit(name)} ${JSON.stringify(now)}`
    return now
  }

  /** Every service active, answering qm health over mTLS, and its row active. */
  async function allServing() {
    for (const name of SERVICES) {
      await waitFor(`${unit(name)} active`, async () => ((await state(name)).ActiveState === 'active' ? true : undefined))
      const health = await project.qm('health', name)
      expect(health.exitCode, `${health.stdout}${health.stderr}\n${await tail(unit(name))}`).toBe(0)
      expect(health.stdout).toMatch(new RegExp(`^${name} 127\\.0\\.0\\.1:${ports.get(name)} SERVING via quantra\\.MicroService/Call`))
    }
    const rows = await project.rows()
    expect(rows.filter((row) => SERVICES.includes(row.name as never)).map((row) => [row.name, row.active])).toEqual(SERVICES.map((name) => [name, true]))
  }

  /**
   * Each test from the same place: the target started and every service serving. reset-failed
   * also empties every unit's start-limit count, so one test's restarts do not count in the next.
   */
  async function freshStart() {
    await systemctl('reset-failed')
    await systemctl('start', 'qm-live.target')
    await allServing()
  }

  async function restarted(name: string, oldPid: string) {
    return waitFor(`${unit(name)} active again with a new MainPID (was ${oldPid})`, async () => {
      const now = await state(name)
      return now.ActiveState === 'active' && now.MainPID !== oldPid && now.MainPID !== '0' ? now : undefined
    })
  }

  it('starts the target: every service answers over mTLS with its row active, and a dependant starts only once its dependency is ready', async () => {
    await systemctl('start', 'qm-live.target')
    await allServing()
    const ledger = await state('ledger')
    const store = await state('store')
    // store's process is started after ledger's readiness check passed (ledger active), not merely after ledger's process.
    expect(Number(store.ExecMainStartTimestampMonotonic)).toBeGreaterThan(Number(ledger.ActiveEnterTimestampMonotonic))
  })

  it('runs a liveness probe every second for 12 s without the probe unit hitting a start limit or restarting anything', async () => {
    await freshStart()
    const before = await Promise.all(SERVICES.map((name) => state(name)))
    // systemd's default start limit is 5 starts in 10 s: a sleep past it proves the probes are not refused.
    await new Promise((resolve) => setTimeout(resolve, 12_000))
    for (const [index, name] of SERVICES.entries()) {
      const probe = await live().show(`qm-${name}-health.service`, 'Result', 'ActiveState')
      expect(probe.Result, await tail(`qm-${name}-health.service`)).toBe('success')
      expect(await state(name), await tail(unit(name))).toMatchObject({ActiveState: 'active', MainPID: before[index]!.MainPID, NRestarts: before[index]!.NRestarts})
    }
  })

  it(`restarts a service killed with SIGKILL after RestartSec (${RESTART_SEC_MS} ms), and it answers again`, async () => {
    await freshStart()
    const before = await state('store')
    const killedUs = monotonicUs()
    await systemctl('kill', '--signal=SIGKILL', '--kill-whom=main', unit('store'))
    const after = await restarted('store', before.MainPID)
    expect(Number(after.NRestarts)).toBe(Number(before.NRestarts) + 1)
    const delayMs = (Number(after.ExecMainStartTimestampMonotonic) - killedUs) / 1000
    // At least RestartSec; at most that plus ExecStartPre (qm register, a Node start) on a busy machine.
    expect(delayMs).toBeGreaterThanOrEqual(RESTART_SEC_MS)
    expect(delayMs).toBeLessThan(RESTART_SEC_MS + 6000)
    await allServing()
  })

  it(`restarts a service hung with SIGSTOP once ${FAILURE_THRESHOLD} liveness probes in a row have failed, not before`, async () => {
    await freshStart()
    const before = await state('store')
    const stoppedUs = monotonicUs()
    await systemctl('kill', '--signal=SIGSTOP', '--kill-whom=main', unit('store'))
    const after = await restarted('store', before.MainPID)
    // A restart by the liveness probe, not by Restart=: systemd saw no exit.
    expect(after.NRestarts).toBe(before.NRestarts)
    const journal = (await live().journal('qm-store-health.service')).split('\n')
    const sinceStop = journal.filter((line) => Number(/^\[\s*([\d.]+)\]/.exec(line)?.[1] ?? 0) * 1e6 > stoppedUs)
    const streak = sinceStop.flatMap((line) => /TIMEOUT.*; (\d+) in a row/.exec(line)?.[1] ?? []).map(Number)
    // Each probe ended with its own verdict (none killed at TimeoutStartSec), counting up to the threshold.
    expect(streak.slice(0, FAILURE_THRESHOLD), sinceStop.join('\n')).toEqual(Array.from({length: FAILURE_THRESHOLD}, (_, i) => i + 1))
    expect(sinceStop.join('\n')).not.toMatch(/Failed with result 'timeout'/)
    // The restart came after the threshold: at least (threshold - 1) intervals after the first failed probe.
    expect((Number(after.ExecMainStartTimestampMonotonic) - stoppedUs) / 1000).toBeGreaterThan((FAILURE_THRESHOLD - 1) * INTERVAL_MS)
    const restarts = await live().journal('qm-live-restart@store.service')
    expect(restarts).toMatch(/Finished qm-live-restart@store\.service|qm-live-restart@store\.service: Deactivated successfully/)
    await allServing()
  })

  it('gives up on max_failures: 2 at the second SIGKILL in the window, not the first: each failure uses the start limit once', async () => {
    await freshStart()
    // A start that counts in the window after reset-failed, as the target's first start did.
    await systemctl('restart', unit('report'))
    const first = await state('report')
    await systemctl('kill', '--signal=SIGKILL', '--kill-whom=main', unit('report'))
    const second = await restarted('report', first.MainPID).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await live().journal(unit('report'))).split('\n').slice(-15).join('\n')}`)
    })
    await systemctl('kill', '--signal=SIGKILL', '--kill-whom=main', unit('report'))
    await waitFor(`${unit('report')} failed`, async () => {
      const now = await state('report')
      return now.ActiveState === 'failed' ? now : undefined
    })
    // systemd 252 keeps Result=signal, the last run's; the refusal is in the journal.
    expect(await tail(unit('report'))).toMatch(/qm-report\.service: Start request repeated too quickly\./)
    expect(Number(second.NRestarts)).toBe(Number(first.NRestarts) + 1)
    expect(await portOpen(ports.get('report')!)).toBe(false)
    expect((await project.rows()).find((row) => row.name === 'report')).toMatchObject({active: false})
    await systemctl('reset-failed', unit('report'))
  })

  it('stops the target for good: every port closed and every row inactive, and still so after several probe intervals', async () => {
    await freshStart()
    await systemctl('stop', 'qm-live.target')
    const allDown = async () => {
      for (const name of SERVICES) {
        const now = await state(name)
        if (now.ActiveState !== 'inactive') return `${name} is ${now.ActiveState} (${now.SubState})`
        if (await portOpen(ports.get(name)!)) return `${name}'s port ${ports.get(name)} is open`
      }
      const rows = await project.rows()
      const active = rows.filter((row) => row.active).map((row) => row.name)
      return active.length === 0 ? undefined : `rows still active: ${active.join(', ')}`
    }
    await waitFor('every service stopped, its port closed and its row inactive', async () => ((await allDown()) === undefined ? true : undefined), 30_000)
    // A probe in flight at the stop, or a timer, must not bring anything back.
    await new Promise((resolve) => setTimeout(resolve, 8 * INTERVAL_MS))
    const later = await allDown()
    const journals = later === undefined ? '' : (await Promise.all(SERVICES.map((name) => live().journal(unit(name))))).join('\n')
    expect(later, journals).toBeUndefined()
  })

  it("reports a unit that fails its readiness as failed, with qm health's reason in its journal", async () => {
    const start = await live().systemctl('start', unit('deaf'))
    expect(start.exitCode).not.toBe(0)
    const deaf = await live().show(unit('deaf'), 'ActiveState', 'Result')
    expect(deaf).toEqual({ActiveState: 'failed', Result: 'exit-code'})
    const journal = await live().journal(unit('deaf'))
    expect(journal).toMatch(new RegExp(`deaf 127\\.0\\.0\\.1:${ports.get('deaf')} UNREACHABLE`))
    expect(journal).toMatch(/qm-deaf\.service: Failed with result 'exit-code'/)
    expect(await portOpen(ports.get('deaf')!)).toBe(false)
    expect((await project.rows()).find((row) => row.name === 'deaf')).toMatchObject({active: false})
  })
})
