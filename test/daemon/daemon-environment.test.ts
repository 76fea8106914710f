// The background daemon starts without NODE_EXTRA_CA_CERTS when nothing of its own needs
// it, and the services it starts get it as the command had it (src/control/daemon-environment.ts).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect, test} from 'vitest'
import {daemonEnvironment, restoreCommandEnvironment} from '../../src/control/daemon-environment.js'
import {makeProject, service} from '../helpers/project.js'
import {runQm, type StatusRow} from '../helpers/run-qm.js'

const environOf = (pid: number): Map<string, string> =>
  new Map(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  )

test('with an SQLite registry the variable is set aside for the daemon and put back as it was', () => {
  const command = {PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem'}
  const daemon = daemonEnvironment(command, {kind: 'sqlite'})
  expect(daemon.NODE_EXTRA_CA_CERTS).toBeUndefined()
  expect(daemon.PATH).toBe('/usr/bin')
  expect(command.NODE_EXTRA_CA_CERTS).toBe('/etc/proxy-ca.pem')
  restoreCommandEnvironment(daemon)
  expect(daemon).toEqual(command)
})

test('with a PostgreSQL registry, whose TLS may trust those certificates, or without the variable, the environment is the command\'s', () => {
  const command = {PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem'}
  expect(daemonEnvironment(command, {kind: 'postgres'})).toBe(command)
  const without = {PATH: '/usr/bin'}
  expect(daemonEnvironment(without, {kind: 'sqlite'})).toBe(without)
  restoreCommandEnvironment(without)
  expect(without).toEqual({PATH: '/usr/bin'})
})

test('qm start: the daemon runs without NODE_EXTRA_CA_CERTS, and its service has it as the command had it', async () => {
  const project = await makeProject()
  project.writeManifest(service('echo', 'guide-call-server.mjs'))
  const extraCerts = join(project.dir, 'certs', 'ca.crt')
  const started = await runQm(['start'], {cwd: project.dir, env: {NODE_EXTRA_CA_CERTS: extraCerts}})
  expect(started.exitCode, started.stderr).toBe(0)
  const daemon = environOf(project.daemonPid()!)
  expect(daemon.has('NODE_EXTRA_CA_CERTS')).toBe(false)
  const status = await project.qm('status', '--json')
  const [row] = (JSON.parse(status.stdout) as {services: StatusRow[]}).services
  expect(row?.state).toBe('running')
  const serviceEnv = environOf(row!.pid!)
  expect(serviceEnv.get('NODE_EXTRA_CA_CERTS')).toBe(extraCerts)
  expect([...serviceEnv.keys()].filter((name) => name.startsWith('QM_DAEMON_'))).toEqual([])
})
