// The README's walk-through, done by a test in a fresh folder: qm certs init, qm new in
// both languages, qm start, qm status, real Calls with several records over mTLS, qm logs,
// qm restart, kill -9 and the automatic restart, qm doctor, qm stop, and the reset (qm
// shutdown, rm -rf .qm), with the registry rows as expected at each step.
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {FIXTURES, isAlive, killGroup, waitFor, workerPortRange} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {runQm, type StatusRow} from '../helpers/run-qm.js'
import {tempDir} from '../helpers/temp-dir.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'

type Row = StatusRow

describe.skipIf(lacks('python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'))('the walk-through', () => {
  it('scaffolds a Python and a TypeScript service, runs them, recovers from kill -9 and stops them', async () => {
    const dir = tempDir('qm-walkthrough-')
    const [first, last] = workerPortRange()
    // A manifest needs a service; this one is never started. Its own port range keeps the
    // test clear of other projects' ports.
    writeFileSync(
      join(dir, 'services.yaml'),
      `# the walk-through's services\nversion: 1\nport_range: [${first}, ${last}]\ndefaults:\n  certs: ./certs\n  health: {interval: 500ms, timeout: 2s, start_timeout: 20s}\nservices:\n  idle:\n    command: [${process.execPath}, ${join(FIXTURES, 'guide-call-server.mjs')}]\n`,
    )
    const qm = (...args: string[]) => runQm(args, {cwd: dir})
    const rows = async () => {
      const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
      try {
        return (await store.list()).map((e) => [e.name, e.port, e.active] as const)
      } finally {
        await store.close()
      }
    }
    const status = async () => JSON.parse((await qm('status', '--json', 'demo_py', 'demo_ts')).stdout).services as Row[]
    try {
      expect((await qm('certs', 'init')).exitCode).toBe(0)
      const py = await qm('new', 'demo_py', '--lang', 'python')
      expect(py.exitCode, py.stderr).toBe(0)
      const ts = await qm('new', 'demo_ts', '--lang', 'typescript')
      expect(ts.exitCode, ts.stderr).toBe(0)
      const registered = await rows()
      expect(registered.map(([name, , active]) => [name, active])).toEqual([
        ['demo_py', false],
        ['demo_ts', false],
      ])

      const started = await qm('start', 'demo_py', 'demo_ts')
      expect(started.exitCode, started.stderr).toBe(0)
      expect(await rows()).toEqual(registered.map(([name, port]) => [name, port, true]))
      for (const name of ['demo_py', 'demo_ts']) {
        expect((await qm('health', name)).exitCode).toBe(0)
        const records = JSON.stringify([1, 2, 3].map((n) => ({meta: {n}, content: {text: `record ${n}`}})))
        const call = await qm('call', name, '--data', records)
        expect(call.exitCode, call.stderr).toBe(0)
        const frames = call.stdout.split('\n').map((line) => JSON.parse(line) as {data: {meta: {n: number}}[]; eos: boolean})
        expect(frames.flatMap((frame) => frame.data.map((record) => record.meta.n))).toEqual([1, 2, 3])
        expect(frames.at(-1)!.eos).toBe(true)
      }

      const table = await qm('status', 'demo_py', 'demo_ts')
      expect(table.exitCode, table.stdout).toBe(0)
      expect(table.stdout).toMatch(/^demo_py +running /m)
      const logs = await qm('logs', '-n', '5')
      expect(logs.exitCode).toBe(0)
      expect(logs.stdout).toMatch(/^demo_py \| .*listening on port \d+/m)

      const beforeRestart = await status()
      const restarted = await qm('restart', 'demo_ts')
      expect(restarted.exitCode, restarted.stderr).toBe(0)
      const demoTs = (await status()).find((row) => row.name === 'demo_ts')!
      expect(demoTs.pid).not.toBe(beforeRestart.find((row) => row.name === 'demo_ts')!.pid)
      expect(demoTs.port).toBe(beforeRestart.find((row) => row.name === 'demo_ts')!.port)

      const before = await status()
      const victim = before.find((row) => row.name === 'demo_py')!
      process.kill(victim.pid!, 'SIGKILL')
      const back = await waitFor(async () => {
        const row = (await status()).find((r) => r.name === 'demo_py')!
        return row.state === 'running' && row.pid !== victim.pid && row.health?.status === 'SERVING' ? row : undefined
      }, 'demo_py running again with a new pid', 30_000)
      expect(back).toMatchObject({restarts: 1, port: victim.port})
      expect(await rows()).toEqual(registered.map(([name, port]) => [name, port, true]))
      const doctor = await qm('doctor')
      expect(doctor.stdout).toMatch(/^OK +executables /m)
      expect(doctor.stderr).toMatch(/^\d+ checks: /m)

      expect((await qm('stop', 'demo_py', 'demo_ts')).exitCode).toBe(0)
      expect(await rows()).toEqual(registered.map(([name, port]) => [name, port, false]))
      for (const row of await status()) expect(row.state).toBe('stopped')

      // The reset: the daemon ends, qm's own state goes; the certificates and services stay.
      expect((await qm('shutdown')).exitCode).toBe(0)
      rmSync(join(dir, '.qm'), {recursive: true, force: true})
      const fresh = await qm('status', '--json')
      expect(JSON.parse(fresh.stdout).services.map((row: Row) => row.state)).toEqual(['stopped', 'stopped', 'stopped'])
    } finally {
      await qm('shutdown')
      for (const row of await status().catch(() => [] as Row[])) if (row.pid && isAlive(row.pid)) killGroup(row.pid)
    }
  }, 180_000)
})
