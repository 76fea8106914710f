// qm doctor through the built CLI, on temporary projects: every check listed with what this
// machine lets a test know, a stale pid file, a stale socket and a world-readable key
// reported as such, --json's shape and the exit codes.
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {readOpenFilesLimit} from '../../src/doctor/open-files.js'
import {exposedPorts, readEphemeralPortSettings, reserveCommand} from '../../src/net/port-sysctls.js'
import {FIXTURES, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'
import {PYTHON, REPO} from '../helpers/services.js'

const CHECK_NAMES = ['reserved-ports', 'foreign-ports', 'registry-ports', 'daemon-files', 'open-files', 'certificates', 'executables', 'registry']

interface Check {
  name: string
  status: 'OK' | 'WARN' | 'FAIL'
  message: string
  fix?: string
}

async function doctorJson(project: Project): Promise<{exitCode: number; checks: Check[]}> {
  const result = await project.qm('doctor', '--json')
  expect(result.stderr).toBe('')
  const parsed = JSON.parse(result.stdout) as {checks: Check[]}
  expect(Object.keys(parsed)).toEqual(['checks'])
  return {exitCode: result.exitCode, checks: parsed.checks}
}

function byName(checks: Check[]): Record<string, Check> {
  return Object.fromEntries(checks.map((c) => [c.name, c]))
}

/** What this machine's settings make of the project's range: the test cannot choose them. */
function expectedReservation(project: Project): {status: 'OK' | 'WARN'; command: string} {
  const settings = readEphemeralPortSettings()
  const exposed = exposedPorts(project.portRange, settings).length > 0
  return {status: exposed ? 'WARN' : 'OK', command: reserveCommand(project.portRange, settings)}
}

function grpcVersion(): string {
  const result = spawnSync(PYTHON, ['-c', 'import grpc, sys; sys.stdout.write(grpc.__version__)'], {encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`${PYTHON} cannot import grpc (CI installs python3-grpcio): ${result.stderr}`)
  return result.stdout
}

function cleanProject(project: Project): void {
  project.writeManifest(service('echo', 'guide-call-server.mjs') + `  py:\n    command: [${PYTHON}, ${join(FIXTURES, 'python', 'guide_server.py')}]\n`)
}

describe.skipIf(lacks('python3-grpcio'))('qm doctor', () => {
  test('on a clean project lists every check, none failing, and exits 0', async () => {
    const project = await makeProject()
    cleanProject(project)
    const text = await project.qm('doctor')
    expect(text.exitCode).toBe(0)
    const lines = text.stdout.split('\n').filter((line) => /^(OK|WARN|FAIL) /.test(line))
    expect(lines.map((line) => line.split(/\s+/)[1])).toEqual(CHECK_NAMES)

    const {exitCode, checks} = await doctorJson(project)
    expect(exitCode).toBe(0)
    expect(checks.map((c) => c.name)).toEqual(CHECK_NAMES)
    for (const c of checks) {
      expect(Object.keys(c)).toEqual(c.status === 'OK' ? ['name', 'status', 'message'] : ['name', 'status', 'message', 'fix'])
      // Each check's line is the JSON's status, name and message.
      expect(lines).toContain(`${c.status.padEnd(4)}  ${c.name.padEnd(14)}  ${c.message}`)
    }
    const check = byName(checks)
    const reservation = expectedReservation(project)
    expect(check['reserved-ports']!.status).toBe(reservation.status)
    if (reservation.status === 'WARN') expect(check['reserved-ports']!.fix!.split('\n')[0]).toBe(reservation.command)
    // Any program's outgoing connection may hold a port of the range for a moment (the range
    // is not reserved here), so only a FAIL, a port some service needs, is ruled out.
    expect(check['foreign-ports']!.status).not.toBe('FAIL')
    expect(check['registry-ports']).toEqual({name: 'registry-ports', status: 'OK', message: 'no registry rows for host localhost'})
    expect(check['daemon-files']).toEqual({
      name: 'daemon-files',
      status: 'OK',
      message: 'no daemon runs, and none left a pid file or socket (.qm/daemon.pid, .qm/qm.sock)',
    })
    const limit = readOpenFilesLimit()
    expect(check['open-files']!.status).toBe(limit.soft >= 464 ? 'OK' : limit.soft >= 232 ? 'WARN' : 'FAIL')
    expect(check['open-files']!.message).toContain('40 services (every port of port_range served; this manifest has 2) need about 232')
    expect(check.certificates).toEqual({name: 'certificates', status: 'OK', message: 'certs/ passes every check of qm certs check for host localhost'})
    expect(check.executables).toEqual({
      name: 'executables',
      status: 'OK',
      message: `2 services: every executable found and runnable; ${PYTHON} imports grpc ${grpcVersion()} (py)`,
    })
    expect(check.registry).toEqual({
      name: 'registry',
      status: 'OK',
      message: '.qm/registry.sqlite3 does not exist yet: qm creates it, with table core_serviceendpoint, at the first start or register',
    })
    // A doctor only looks: it made no registry and no state.
    expect(existsSync(join(project.dir, '.qm', 'registry.sqlite3'))).toBe(false)
  })

  test('reports a stale pid file, a stale socket and a world-readable key, and exits 1', async () => {
    const project = await makeProject()
    cleanProject(project)
    const stateDir = join(project.dir, '.qm')
    mkdirSync(stateDir, {recursive: true})
    const gone = spawnSync('true').pid!
    writeFileSync(join(stateDir, 'daemon.pid'), `${gone}\n`)
    await leaveStaleSocket(join(stateDir, 'qm.sock'))
    const key = join(project.dir, 'certs', 'server.key')
    chmodSync(key, 0o644)

    const text = await project.qm('doctor')
    expect(text.exitCode).toBe(1)
    expect(text.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        `WARN  daemon-files    .qm/daemon.pid names pid ${gone}, which is not running: a stale pid file; .qm/qm.sock: nobody listens on it: a stale socket`,
        `                      fix  rm ${join(stateDir, 'daemon.pid')} (the next daemon writes its own)`,
        `                           rm ${join(stateDir, 'qm.sock')} (the next daemon makes its own)`,
        'FAIL  certificates    certs/server.key is readable by group and others (mode 0644)',
        `                      fix  chmod 600 ${key}`,
      ]),
    )
    expect(text.stderr).toMatch(/^8 checks: \d OK, \d WARN, 1 FAIL$/)

    const {exitCode, checks} = await doctorJson(project)
    expect(exitCode).toBe(1)
    expect(byName(checks).certificates).toEqual({
      name: 'certificates',
      status: 'FAIL',
      message: 'certs/server.key is readable by group and others (mode 0644)',
      fix: `chmod 600 ${key}`,
    })
  })

  test('a pid file naming a living process that is not a qm daemon', async () => {
    const project = await makeProject()
    cleanProject(project)
    const sleeper = spawn('sleep', ['60'], {stdio: 'ignore'})
    try {
      mkdirSync(join(project.dir, '.qm'), {recursive: true})
      writeFileSync(join(project.dir, '.qm', 'daemon.pid'), `${sleeper.pid}\n`)
      const {checks} = await doctorJson(project)
      expect(byName(checks)['daemon-files']).toEqual({
        name: 'daemon-files',
        status: 'WARN',
        message: `.qm/daemon.pid names pid ${sleeper.pid}, which is not a qm daemon (sleep 60): a stale pid file whose pid was reused`,
        fix: `rm ${join(project.dir, '.qm', 'daemon.pid')}, and do not signal pid ${sleeper.pid}`,
      })
    } finally {
      sleeper.kill('SIGKILL')
    }
  })

  test('a running daemon and a registry with rows: both OK', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const {checks} = await doctorJson(project)
    const check = byName(checks)
    expect(check['daemon-files']).toEqual({name: 'daemon-files', status: 'OK', message: `daemon pid ${project.daemonPid()} runs and answers on .qm/qm.sock`})
    expect(check['open-files']!.message).toContain(`of the running daemon, pid ${project.daemonPid()}`)
    expect(check['registry-ports']).toEqual({name: 'registry-ports', status: 'OK', message: '1 registry row for host localhost: 1 held by their own service, 0 free'})
    expect(check.registry).toEqual({
      name: 'registry',
      status: 'OK',
      message: 'table core_serviceendpoint in .qm/registry.sqlite3 has the ServiceEndpoint columns; 1 row, 1 for host localhost',
    })
  })

  test('a Python interpreter that cannot import grpc, and a missing executable: FAIL with the fix', async () => {
    const project = await makeProject()
    const bin = join(project.dir, 'bin')
    mkdirSync(bin)
    const python = join(bin, 'python3')
    writeFileSync(python, '#!/bin/sh\necho "Traceback (most recent call last):" >&2\necho "ModuleNotFoundError: No module named \'grpc\'" >&2\nexit 1\n', {mode: 0o755})
    project.writeManifest(`  py:\n    command: [${python}, server.py]\n  gone:\n    command: [no-such-program-qm]\n`)
    const result = await project.qm('doctor')
    expect(result.exitCode).toBe(1)
    expect(result.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        `FAIL  executables     py: ${python} cannot import grpc: ModuleNotFoundError: No module named 'grpc'; gone: executable "no-such-program-qm" not found on PATH`,
        `                      fix  install grpcio for ${python}: apt-get install python3-grpcio for Debian's /usr/bin/python3, else ${python} -m pip install grpcio`,
        '                           gone: install it, or give its absolute path in command',
      ]),
    )
  })

  test('a Python service that generates its stubs at start, on an interpreter without pkg_resources: FAIL naming the module and its package', async () => {
    const project = await makeProject()
    // A pkg_resources that fails to import, as on a Debian 12 without python3-pkg-resources.
    const hidden = join(project.dir, 'hide')
    mkdirSync(join(hidden, 'pkg_resources'), {recursive: true})
    writeFileSync(join(hidden, 'pkg_resources', '__init__.py'), 'raise ModuleNotFoundError("No module named \'pkg_resources\'", name="pkg_resources")\n')
    project.writeManifest(`  slow:\n    command: [${PYTHON}, ${join(REPO, 'examples', 'slow_start', 'server.py')}]\n    env: {PYTHONPATH: ${hidden}}\n`)
    const result = await project.qm('doctor')
    expect(result.exitCode).toBe(1)
    expect(result.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        `FAIL  executables     slow: ${PYTHON} cannot import grpc, pkg_resources and grpc_tools: ModuleNotFoundError: No module named 'pkg_resources'`,
        `                      fix  install setuptools for ${PYTHON}: apt-get install python3-pkg-resources for Debian's /usr/bin/python3, else ${PYTHON} -m pip install setuptools`,
      ]),
    )

    project.writeManifest(`  slow:\n    command: [${PYTHON}, ${join(REPO, 'examples', 'slow_start', 'server.py')}]\n`)
    const {checks} = await doctorJson(project)
    expect(byName(checks).executables).toEqual({
      name: 'executables',
      status: 'OK',
      message: `1 service: every executable found and runnable; ${PYTHON} imports grpc, pkg_resources and grpc_tools (grpc ${grpcVersion()}) (slow)`,
    })
  })

  test('an invalid manifest is a usage error, exit 2, as for every command', async () => {
    const project = await makeProject()
    writeFileSync(join(project.dir, 'services.yaml'), 'version: 1\nservices:\n  a:\n    comand: [x]\n')
    const result = await project.qm('doctor', '--json')
    expect(result.exitCode).toBe(2)
    expect(JSON.parse(result.stdout).error.code).toBe('MANIFEST')
  })
})

/** A socket file whose listener died without removing it, as a daemon killed with -9 leaves. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {stdio: ['ignore', 'pipe', 'inherit']})
  await waitFor(() => existsSync(path), `${path} to appear`)
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
}
