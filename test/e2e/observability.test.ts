// Seeing qm from outside: a real Prometheus server scraping the daemon's /metrics, and the
// manifest's hooks run on what happens to a service.
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'
import {freePort} from '../helpers/listen.js'
import {FIXTURES, killGroup, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'

const statusOf = async (project: Project, name: string) => JSON.parse((await project.qm('status', name, '--json')).stdout).services[0] as {pid: number; state: string}

/**
 * Debian's Prometheus, scraping `target` every second, with its data in the project's
 * folder. honor_labels keeps qm's own `instance` label (the service instance) instead of
 * renaming it exported_instance beside the target's.
 */
async function startPrometheus(dir: string, target: string): Promise<(query: string) => Promise<{metric: Record<string, string>; value: [number, string]}[]>> {
  const port = await freePort()
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: qm\n    honor_labels: true\n    static_configs: [{targets: ['${target}']}]\n`)
  mkdirSync(join(dir, 'tsdb'))
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {detached: true, stdio: ['ignore', 'ignore', 'pipe']})
  let log = ''
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)))
  onTestFinished(() => killGroup(child.pid!))
  const api = `http://127.0.0.1:${port}`
  await waitFor(async () => (await fetch(`${api}/-/ready`).catch(() => undefined))?.ok, `Prometheus to be ready (its log: ${log})`, 30_000)
  return async (query) => {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(query)}`)
    const body = (await response.json()) as {status: string; data: {result: {metric: Record<string, string>; value: [number, string]}[]}}
    if (body.status !== 'success') throw new Error(`query ${query} failed: ${JSON.stringify(body)}`)
    return body.data.result
  }
}

const single = async (query: (q: string) => Promise<{value: [number, string]}[]>, q: string) => {
  const result = await query(q)
  return result.length === 1 ? Number(result[0]!.value[1]) : undefined
}

describe.skipIf(lacks('prometheus'))('qm metrics scraped by a real Prometheus', () => {
  it('shows three services up, a kill -9 as one crash restart, probe latency samples, and a fatal service as not up', {timeout: 120_000}, async () => {
    const project = await makeProject()
    const metricsPort = await freePort()
    project.writeManifest(
      service('alpha', 'guide-call-server.mjs') + service('beta', 'guide-call-server.mjs') + service('gamma', 'guide-call-server.mjs') + service('broken', 'exit-at-once.mjs', '    backoff: {initial: 100ms, max_failures: 2}\n'),
      `metrics: {listen: "127.0.0.1:${metricsPort}"}\n`,
    )
    // broken goes fatal, so the start says so; the other three run.
    expect((await project.qm('start')).exitCode).toBe(1)
    const query = await startPrometheus(project.dir, `127.0.0.1:${metricsPort}`)

    await waitFor(async () => (await single(query, 'sum(qm_service_up{instance=~"alpha|beta|gamma"})')) === 3, 'three services up in Prometheus')
    await waitFor(async () => (await single(query, 'sum(qm_probe_duration_seconds_count{instance="alpha"})')) !== undefined, 'probe latency samples of alpha')
    expect(await single(query, 'sum(qm_probe_duration_seconds_count)')).toBeGreaterThan(0)

    await waitFor(async () => (await statusOf(project, 'broken')).state === 'fatal', 'broken to go fatal')
    await waitFor(async () => (await single(query, 'qm_service_state{instance="broken",state="fatal"}')) === 1, 'broken fatal in Prometheus')
    expect(await single(query, 'qm_service_up{instance="broken"}')).toBe(0)

    expect(await single(query, 'qm_service_restarts_total{instance="alpha",reason="crash"}')).toBe(0)
    const {pid} = await statusOf(project, 'alpha')
    process.kill(pid, 'SIGKILL')
    await waitFor(async () => (await single(query, 'qm_service_restarts_total{instance="alpha",reason="crash"}')) === 1, 'the crash restart counted in Prometheus')
    await waitFor(async () => (await single(query, 'qm_service_up{instance="alpha"}')) === 1, 'alpha up again')

    // qm metrics prints the same families on the control socket.
    const printed = await project.qm('metrics')
    expect(printed.exitCode).toBe(0)
    for (const family of ['qm_service_up', 'qm_service_state', 'qm_service_restarts_total', 'qm_probe_duration_seconds', 'qm_service_version_info', 'qm_service_cpu_seconds_total', 'qm_service_resident_memory_bytes', 'qm_certificate_expiry_timestamp_seconds', 'qm_registry_pending_writes', 'process_resident_memory_bytes']) {
      expect(printed.stdout).toContain(`# TYPE ${family} `)
    }
  })

  it('says plainly when no daemon runs', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'guide-call-server.mjs'))
    const result = await project.qm('metrics')
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain('no qm daemon runs for this manifest')
  })
})

describe('hooks', () => {
  it('runs on_fatal once with the event in its environment and on stdin, never delays a respawn with a slow hook, and logs one that does not exist', async () => {
    const project = await makeProject()
    const out = join(project.dir, 'hook-out')
    mkdirSync(out)
    // A hook written as argv: node records its environment and stdin in a file of its own. It writes
    // a hidden file and renames it, so the test never reads a file that is still being written.
    const recorder = `const fs = require('fs'); let input = ''; process.stdin.on('data', (c) => (input += c)).on('end', () => { const partial = process.argv[1] + '/.partial-' + process.pid; fs.writeFileSync(partial, JSON.stringify({env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('QM_'))), stdin: JSON.parse(input)})); fs.renameSync(partial, process.argv[1] + '/' + process.env.QM_EVENT + '-' + process.env.QM_INSTANCE + '-' + process.pid + '.json') })`
    const hook = (argv: string[]) => JSON.stringify(argv)
    project.writeManifest(
      service('looping', 'exit-at-once.mjs', `    backoff: {initial: 100ms, max_failures: 3}\n    hooks: {on_fatal: ${hook([process.execPath, '-e', recorder, out])}}\n`) +
        service('steady', 'guide-call-server.mjs', `    hooks: {on_restart: [sleep, "60"], on_recovered: ${hook([process.execPath, '-e', recorder, out])}}\n`) +
        service('missing', 'guide-call-server.mjs', `    hooks: {on_restart: [${join(project.dir, 'no-such-hook')}]}\n`),
    )
    expect((await project.qm('start')).exitCode).toBe(1)
    await waitFor(() => readdir(out).some((file) => file.startsWith('on_fatal-looping-')), 'the on_fatal hook to run')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const fatal = readdir(out).filter((file) => file.startsWith('on_fatal-'))
    expect(fatal).toHaveLength(1)
    const recorded = JSON.parse(readFileSync(join(out, fatal[0]!), 'utf8'))
    expect(recorded.env).toMatchObject({QM_EVENT: 'on_fatal', QM_SERVICE: 'looping', QM_INSTANCE: 'looping', QM_STATE: 'fatal', QM_FROM: 'backoff', QM_PID: ''})
    expect(recorded.env.QM_REASON).toMatch(/failures in a row/)
    expect(recorded.env.QM_PORT).toMatch(/^\d+$/)
    expect(recorded.stdin).toMatchObject({event: 'on_fatal', service: 'looping', instance: 'looping', state: 'fatal', from: 'backoff', port: Number(recorded.env.QM_PORT)})

    // on_restart sleeps a minute; the respawn does not wait for it, and on_recovered follows.
    const before = await statusOf(project, 'steady')
    process.kill(before.pid, 'SIGKILL')
    const after = await waitFor(async () => {
      const row = await statusOf(project, 'steady')
      return row.state === 'running' && row.pid !== before.pid ? row : undefined
    }, 'steady running again with a new pid', 10_000)
    await waitFor(() => readdir(out).some((file) => file.startsWith('on_recovered-steady-')), 'on_recovered to run')
    const recovered = JSON.parse(readFileSync(join(out, readdir(out).find((file) => file.startsWith('on_recovered-steady-'))!), 'utf8'))
    expect(recovered.env).toMatchObject({QM_STATE: 'running', QM_FROM: 'starting', QM_PID: String(after.pid)})

    // A hook that cannot run is said in the daemon's log, and the service goes on.
    const {pid: missingPid} = await statusOf(project, 'missing')
    process.kill(missingPid, 'SIGKILL')
    const log = join(project.dir, '.qm', 'daemon.log')
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('hook on_restart of missing'), 'the missing hook in the daemon log')
    expect(readFileSync(log, 'utf8')).toContain(`hook on_restart of missing (${join(project.dir, 'no-such-hook')}): cannot run it: ${join(project.dir, 'no-such-hook')} does not exist or is not on PATH`)
    await waitFor(async () => (await statusOf(project, 'missing')).state === 'running', 'missing running again')
  })
})

function readdir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : []
}
