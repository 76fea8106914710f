// Failed Calls while every service restarts, under the platform's kind of load: the client
// of test/fixtures/python/platform_client.py looks the service's row up in a registry
// before each new Call, opens it over mTLS, sends records for up to a second and waits for
// the end-of-stream frame. qm's rows are its own registry's (a rollout moves them); PM2
// and supervisord know no registry, so theirs is a file of fixed rows the harness writes,
// as a platform with dedicated ports would have.
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PYTHON} from './guide-services.js'
import {REPO} from './project.js'
import {killGroup, sleep, waitFor} from './processes.js'
import {run} from './supervisors.js'

const CLIENT = join(REPO, 'test/fixtures/python/platform_client.py')
const QM_BIN = join(REPO, 'bin/run.js')
const LOAD_BEFORE_MS = 2000
const LOAD_AFTER_MS = 1000

/** The qm of this measure: the same services with port: auto and spare ports for a rollout. */
export function qmAutoPorts(job) {
  const dir = join(job.dir, 'qm-auto')
  const env = job.env
  const cli = (...args) => [process.execPath, QM_BIN, ...args]
  const last = job.ports.at(-1) + job.ports.length
  return {
    dir,
    registry: join(dir, '.qm', 'registry.sqlite3'),
    setup() {
      // A fresh registry each time: a rollout leaves the rows on the spare ports.
      rmSync(join(dir, '.qm'), {recursive: true, force: true})
      mkdirSync(dir, {recursive: true})
      const services = job.names.map((name, i) => `  ${name}:\n    command: ${JSON.stringify(job.argv(i).slice(0, 2))}\n`).join('')
      writeFileSync(
        join(dir, 'services.yaml'),
        `version: 1\nport_range: [${job.ports[0]}, ${last}]\ndefaults:\n  certs: ${job.certs.dir}\n  env: {PYTHONPATH: ${job.stubs}, PYTHONDONTWRITEBYTECODE: "1"}\n  rollout: {drain_delay: 5s, watch: 500ms}\nservices:\n${services}`,
      )
    },
    start: () => run(cli('start'), {env, cwd: dir}),
    command: (...args) => cli(...args),
    down: () => run(cli('shutdown'), {env, cwd: dir}),
  }
}

/** A registry file with one active row per service on its fixed port, for the peers. */
export async function fixedRegistry(job) {
  const file = join(job.dir, 'fixed-registry.sqlite3')
  if (existsSync(file)) return file
  const {SqliteEndpointStore} = await import('../../dist/registry/sqlite-store.js')
  const store = SqliteEndpointStore.open(file, 'core_serviceendpoint')
  try {
    for (const [i, name] of job.names.entries()) await store.register({name, host: 'localhost', port: job.ports[i], active: true, range: [job.ports[0], job.ports.at(-1)], portInUse: () => undefined})
  } finally {
    await store.close()
  }
  return file
}

/** The platform's load on every service while `restart` runs: the client's counts and the command's time. */
export async function underLoad(job, registry, restart, {workers = 8} = {}) {
  const child = spawn(PYTHON, [CLIENT, '--db', registry, '--certs', job.certs.dir, '--workers', String(workers), ...job.names], {env: job.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk) => (out += chunk))
  child.stderr.on('data', (chunk) => (err += chunk))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await waitFor(() => out.includes('STARTED'), {timeoutMs: 20_000, pauseMs: 20, what: `the platform client to start (${err.slice(-300)})`})
    await sleep(LOAD_BEFORE_MS)
    const result = await restart()
    await sleep(LOAD_AFTER_MS)
    child.kill('SIGTERM')
    await exited
    const line = out.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`the platform client printed no counts: ${err.slice(-500)}`)
    return {...JSON.parse(line), restartMs: result.ms, restartCode: result.code}
  } finally {
    killGroup(child.pid)
  }
}
