// The commands typed all day run without oclif when their command line is plain (and, for
// status, stop and restart, a daemon runs; a start starts one), and print exactly what
// oclif's path prints: the same bodies, the same errors, the same exit codes. Anything
// else (help, a misspelt flag, no daemon for a status, a manifest that does not load) goes
// to oclif.
import {existsSync, readFileSync, utimesSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'
import {FIXTURES, isAlive, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {runQm, startQm, type QmResult} from '../helpers/run-qm.js'
import {REPO} from '../helpers/services.js'
import {tempDir} from '../helpers/temp-dir.js'

/** The command through bin/run.js, with the list of every module it loaded. */
async function qmRecording(project: Project, args: string[], env: Record<string, string> = {}): Promise<QmResult & {loaded: string[]}> {
  const file = join(tempDir('qm-imports-'), 'imports.txt')
  const result = await runQm(args, {cwd: project.dir, env: {...env, NODE_OPTIONS: `--import ${join(FIXTURES, 'record-imports.mjs')}`, QM_TEST_IMPORTS_FILE: file}})
  return {...result, loaded: existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []}
}

/** The same command through oclif's own entry, as every command ran before the fast path (and as bin/run.js runs oclif). */
async function qmThroughOclif(project: Project, args: string[]): Promise<QmResult> {
  const script = `const {execute, settings} = await import(${JSON.stringify(OCLIF_ENTRY)}); settings.enableAutoTranspile = false; const {normalizeArgv} = await import(${JSON.stringify(join(REPO, 'dist/cli/argv.js'))}); await execute({dir: ${JSON.stringify(REPO)}, args: normalizeArgv(${JSON.stringify(args)})})`
  const result = await execa(process.execPath, ['--input-type=module', '-e', script], {cwd: project.dir, env: {NO_COLOR: '1', OCLIF_DISABLE_ENGINE_WARNING: '1'}, reject: false, stdin: 'ignore'})
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

/** Runs qm up until its output has shown each of `shown` in turn, then sends it `signal` and waits for it to end. */
async function upUntil(args: string[], options: {cwd: string; env?: Record<string, string>}, shown: string[], signal: NodeJS.Signals) {
  const up = startQm(args, options)
  let output = ''
  up.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  try {
    for (const text of shown) await waitFor(() => output.includes(text), text)
  } finally {
    up.kill(signal)
  }
  const result = await up
  return {result, output}
}

const OCLIF_ENTRY = createRequire(import.meta.url).resolve('@oclif/core')

const usesOclif = (loaded: string[]) => loaded.some((url) => url.includes('/@oclif/core/'))

const PLAIN_FORMS = [
  ['status'],
  ['status', '--json'],
  ['ps', 'alpha'],
  ['status', 'nobody'],
  ['status', 'nobody', '--json'],
  ['--version'],
  ['version'],
  ['endpoints'],
  ['endpoints', '--json'],
  ['logs', '-n', '2', 'beta'],
  ['logs', '--tail=1'],
  ['logs', 'nobody'],
]
const OCLIF_FORMS = [['status', '--hepl'], ['status', '-h'], ['logs', '-n', 'many'], ['endpoints', '--host', 'a', '--all-hosts'], ['endpoints', '--check', '--mark-inactive'], ['validate'], ['stop', '--all'], ['up', '-h']]

// Uptime, CPU, memory and probe latency move between two runs (and with them the columns'
// widths); the rest is the same text.
const withoutFigures = (text: string) => text.replace(/\d+(\.\d+)?(ms|s|m|h|d|%|[KMG]i?B?)?/g, 'N').replace(/ +/g, ' ')
const steady = (result: QmResult) => ({exitCode: result.exitCode, stdout: withoutFigures(result.stdout), stderr: withoutFigures(result.stderr)})

describe('the commands typed all day, without oclif', () => {
  // Some forty commands, each run both ways, one after another: more than the default minute on a loaded machine.
  it('print what oclif prints for every plain form, with a daemon running, and never load oclif', {timeout: 150_000}, async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs') + service('beta', 'chatty-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    for (const args of PLAIN_FORMS) {
      const fast = await qmRecording(project, args)
      const oclif = await qmThroughOclif(project, args)
      expect(usesOclif(fast.loaded), `qm ${args.join(' ')} loaded oclif`).toBe(false)
      expect(steady(fast), `qm ${args.join(' ')}`).toEqual(steady(oclif))
    }
    // The changes, each run in the same state both ways: restart from running, stop from
    // running, start from stopped.
    for (const args of [['restart', 'alpha'], ['stop', 'beta'], ['start', 'beta'], ['stop', 'beta', '--json'], ['start', 'beta', '--json'], ['restart', 'nobody']]) {
      const fast = await qmRecording(project, args)
      expect(usesOclif(fast.loaded), `qm ${args.join(' ')} loaded oclif`).toBe(false)
      if (args[0] === 'stop') await project.qm('start', 'beta')
      if (args[0] === 'start') await project.qm('stop', 'beta')
      const oclif = await qmThroughOclif(project, args)
      expect(steady(fast), `qm ${args.join(' ')}`).toEqual(steady(oclif))
    }
    // The reads run from the bundle, with no ES module of qm's (Node's ESM loader costs some
    // 8 ms before the first one); node:crypto and node:child_process cost some 3 to 6 ms each
    // to load, and a read needs neither.
    for (const args of [['status'], ['endpoints'], ['logs', '-n', '2', 'beta']]) {
      const {loaded} = await qmRecording(project, args)
      expect(loaded, `qm ${args.join(' ')}`).toContain(join(REPO, 'dist/cli/fast-path.cjs'))
      expect(loaded.filter((entry) => entry.startsWith(`file://${REPO}/dist/`)), `qm ${args.join(' ')}`).toEqual([])
      expect(loaded, `qm ${args.join(' ')}`).toContain('builtin:net')
      expect(loaded.filter((entry) => entry === 'builtin:crypto' || entry === 'builtin:child_process'), `qm ${args.join(' ')}`).toEqual([])
    }
    // Each form of each kind was seen: a status table, JSON, a refusal, a version, rows, log lines.
    const status = await qmRecording(project, ['status'])
    expect(status.stdout).toMatch(/^NAME +STATE/)
    expect((await qmRecording(project, ['status', 'nobody'])).stderr).toContain('error unknown service "nobody"')
  })

  it('leaves every other form to oclif, which says what is wrong or does it', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    for (const args of OCLIF_FORMS) expect(usesOclif((await qmRecording(project, args)).loaded), `qm ${args.join(' ')}`).toBe(true)
  })

  it('runs the built commands whatever NODE_ENV says, never a TypeScript loader', async () => {
    // oclif looks for sources to transpile when NODE_ENV is development or test, which a test
    // runner sets and an operator's shell may: it loads TypeScript (by require, which the
    // recorder does not see) and imports tsx, some 0.9 s a command.
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    for (const NODE_ENV of ['development', 'test']) {
      const validate = await qmRecording(project, ['validate'], {NODE_ENV})
      expect(validate.exitCode, validate.stderr).toBe(0)
      expect(usesOclif(validate.loaded)).toBe(true)
      expect(validate.loaded.filter((url) => /\/node_modules\/(tsx|ts-node)\//.test(url)), `NODE_ENV=${NODE_ENV}`).toEqual([])
      expect(validate.loaded).toContain(`file://${join(REPO, 'dist/commands/validate.js')}`)
    }
  })

  it('answers a status, stop or restart with no daemon through oclif', async () => {
    const idle = await makeProject()
    idle.writeManifest(service('alpha', 'health-server.mjs'))
    const status = await qmRecording(idle, ['status'])
    expect(usesOclif(status.loaded)).toBe(true)
    expect(status.exitCode).toBe(3)
    expect(status.stdout).toContain('no qm daemon runs for this manifest')
    const stop = await qmRecording(idle, ['stop'])
    expect([usesOclif(stop.loaded), stop.exitCode, stop.stderr]).toEqual([true, 0, 'no qm daemon runs for this manifest: nothing to stop'])
    expect(idle.daemonPid()).toBeUndefined()
  })

  it('starts a daemon for a start with none, without oclif, and prints what oclif prints', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    for (const args of [['start'], ['start', '--json']]) {
      const fast = await qmRecording(project, args)
      expect(usesOclif(fast.loaded), `qm ${args.join(' ')} loaded oclif`).toBe(false)
      expect(project.daemonPid()).toBeDefined()
      expect((await project.qm('shutdown')).exitCode).toBe(0)
      const oclif = await qmThroughOclif(project, args)
      expect(project.daemonPid()).toBeDefined()
      expect((await project.qm('shutdown')).exitCode).toBe(0)
      expect(steady(fast), `qm ${args.join(' ')}`).toEqual(steady(oclif))
    }
  })

  it('starts a daemon that takes the manifest the command cached: the two share the build stamp, and the daemon never loads the YAML parser', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    const past = new Date(Date.now() - 60_000)
    utimesSync(join(project.dir, 'services.yaml'), past, past)
    // From the bundle: reads the file once and caches it, keyed by qm's build.
    expect((await project.qm('endpoints')).exitCode).toBe(0)
    // The daemon, from its own bundle, inherits the recorder through NODE_OPTIONS, and writes
    // down what it required when it exits.
    const file = join(tempDir('qm-imports-'), 'imports.txt')
    const started = await runQm(['start'], {cwd: project.dir, env: {NODE_OPTIONS: `--import ${join(FIXTURES, 'record-imports.mjs')}`, QM_TEST_IMPORTS_FILE: file}})
    expect(started.exitCode, started.stderr).toBe(0)
    const daemon = project.daemonPid()!
    expect((await project.qm('shutdown')).exitCode).toBe(0)
    await waitFor(() => !isAlive(daemon), `daemon ${daemon} to exit`)
    const loaded = readFileSync(file, 'utf8').split('\n')
    expect(loaded).toContain(`file://${join(REPO, 'dist/daemon/daemon-main.cjs')}`)
    // Nothing of qm's from the ES modules: each class once, the bundle's.
    expect(loaded.filter((entry) => entry.startsWith(`file://${join(REPO, 'dist')}/`) && !entry.endsWith('/daemon-main.cjs'))).toEqual([])
    expect(loaded.filter((entry) => entry.includes('/node_modules/yaml/'))).toEqual([])
  })

  it('runs qm up without oclif, which would stay loaded for as long as its services run, and stops them on SIGTERM', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs'))
    const file = join(tempDir('qm-imports-'), 'imports.txt')
    const {result, output} = await upUntil(['up'], {cwd: project.dir, env: {NODE_OPTIONS: `--import ${join(FIXTURES, 'record-imports.mjs')}`, QM_TEST_IMPORTS_FILE: file}}, ['alpha | READY port=', 'alpha | qm: alpha: starting → running'], 'SIGTERM')
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(output).toContain('alpha | qm: alpha: running → stopping')
    const loaded = readFileSync(file, 'utf8').split('\n')
    expect(usesOclif(loaded)).toBe(false)
    // From the ES modules, as the daemon runs: bin/run.js takes `up` there, not to the bundle.
    expect(loaded).toContain(`file://${join(REPO, 'dist/cli/up.js')}`)
    expect(loaded).not.toContain(join(REPO, 'dist/cli/fast-path.cjs'))
    expect(project.daemonPid()).toBeUndefined()

    project.writeManifest(service('alpha', 'health-server.mjs') + '  beta:\n    command: 42\n')
    const refused = await qmRecording(project, ['up'])
    expect([usesOclif(refused.loaded), refused.exitCode]).toEqual([true, 2])
    expect(refused.stderr).toContain('beta')
    expect(project.daemonPid()).toBeUndefined()
  })

  it('runs qm -f FILE up NAME from another folder: only the services named start, and all of them stop', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs') + service('beta', 'health-server.mjs'))
    const {result, output} = await upUntil(['-f', join(project.dir, 'services.yaml'), 'up', 'alpha'], {cwd: tempDir('qm-elsewhere-')}, ['alpha | qm: alpha: starting → running'], 'SIGINT')
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(output).toContain('alpha | qm: alpha: running → stopping')
    expect(output).not.toContain('beta')
    expect(project.daemonPid()).toBeUndefined()
  })

  it('leaves a start with no daemon and a manifest that does not load to oclif, which says why and starts nothing', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'health-server.mjs') + '  beta:\n    command: 42\n')
    const start = await qmRecording(project, ['start'])
    expect(usesOclif(start.loaded)).toBe(true)
    expect(start.exitCode).toBe(2)
    expect(start.stderr).toContain('beta')
    expect(project.daemonPid()).toBeUndefined()
  })
})
