// A port of a manifest's service held by a foreign process (a child of the test, not the
// test itself): qm start refuses that service naming the holder's pid and command, and qm
// doctor reports the same holder. And a TIME_WAIT that makes a service's bind fail.
import {describe, expect, test} from 'vitest'
import {exposedPorts, readEphemeralPortSettings, reserveCommand} from '../../src/net/port-sysctls.js'
import {holdPort, selfConnect} from '../helpers/port-holder.js'
import {makeProject, service, type Project} from '../helpers/project.js'

/** The reservation advice this machine's settings call for (none when the range is reserved). */
function reserveAdvice(project: Project): string {
  const settings = readEphemeralPortSettings()
  if (exposedPorts(project.portRange, settings).length === 0) return ''
  return `; reserve the port range so that no connection is given one of its ports as its source: ${reserveCommand(project.portRange, settings)}`
}

function failureLines(stderr: string, name: string): string[] {
  const lines = stderr.split('\n')
  const at = lines.findIndex((line) => line.startsWith(`✗ ${name}: `))
  return at < 0 ? [] : [lines[at]!, lines[at + 1]!]
}

describe('a foreign process holds the port of a service', () => {
  test('listening on it: qm start refuses the service naming the holder, and qm doctor reports the same', async () => {
    const project = await makeProject()
    const port = project.portRange[0] + 5
    const holder = await holdPort(port, 'listen')
    project.writeManifest(service('holdme', 'guide-call-server.mjs', `    port: ${port}\n`) + service('free', 'guide-call-server.mjs'))

    const start = await project.qm('start')
    expect(start.exitCode).toBe(1)
    expect(failureLines(start.stderr, 'holdme')).toEqual([
      `✗ holdme: port ${port} is already in use: pid ${holder.pid} (${holder.command}) listens on 127.0.0.1:${port}`,
      `  hint  stop pid ${holder.pid} (kill ${holder.pid}); or give holdme another port in the manifest (port: auto takes a free one)`,
    ])
    expect(start.stdout).toMatch(/^✓ free running on port \d+/m)
    // Nothing registered for the refused service.
    expect((await project.endpoints()).map((row) => row.name)).toEqual(['free'])

    const doctor = await project.qm('doctor')
    expect(doctor.exitCode).toBe(1)
    expect(doctor.stdout.split('\n')).toContain(
      `FAIL  foreign-ports   port ${port} (the fixed port of holdme): pid ${holder.pid} (${holder.command}) listens on 127.0.0.1:${port}`,
    )
    const json = JSON.parse((await project.qm('doctor', '--json')).stdout) as {checks: {name: string; status: string; message: string; fix?: string}[]}
    expect(json.checks.find((c) => c.name === 'foreign-ports')).toEqual({
      name: 'foreign-ports',
      status: 'FAIL',
      message: `port ${port} (the fixed port of holdme): pid ${holder.pid} (${holder.command}) listens on 127.0.0.1:${port}`,
      fix: `stop pid ${holder.pid} (kill ${holder.pid})`,
    })
    // The service qm runs on its own port is not someone else's.
    expect(json.checks.find((c) => c.name === 'registry-ports')).toMatchObject({status: 'OK', message: '1 registry row for host localhost: 1 held by their own service, 0 free'})
  })

  test('connected from it: the refusal names the holder of the connection and the reservation', async () => {
    const project = await makeProject()
    const port = project.portRange[0] + 6
    const holder = await holdPort(port, 'connect')
    project.writeManifest(service('holdme', 'guide-call-server.mjs', `    port: ${port}\n`))

    const start = await project.qm('start')
    expect(start.exitCode).toBe(1)
    const [reason, hint] = failureLines(start.stderr, 'holdme')
    expect(reason).toMatch(
      new RegExp(`^✗ holdme: port ${port} is already in use: pid ${holder.pid} \\(${escape(holder.command)}\\) holds it as the local end of a connection 127\\.0\\.0\\.1:${port} → 127\\.0\\.0\\.1:\\d+ \\(ESTABLISHED\\)$`),
    )
    expect(hint).toBe(`  hint  stop pid ${holder.pid} (kill ${holder.pid})${reserveAdvice(project)}; or give holdme another port in the manifest (port: auto takes a free one)`)

    const doctor = await project.qm('doctor')
    expect(doctor.exitCode).toBe(1)
    expect(doctor.stdout).toMatch(new RegExp(`^FAIL  foreign-ports   port ${port} \\(the fixed port of holdme\\): pid ${holder.pid} \\(${escape(holder.command)}\\) holds it as the local end of a connection`, 'm'))
  })
})

describe('a TIME_WAIT on the port', () => {
  test('the service starts, fails to bind, and the failure says it is a TIME_WAIT and what to do', async () => {
    const project = await makeProject()
    const port = project.portRange[0] + 7
    project.writeManifest(service('late', 'guide-call-server.mjs', `    port: ${port}\n    restart: never\n`))
    selfConnect(port)

    const start = await project.qm('start')
    expect(start.exitCode).toBe(1)
    expect(failureLines(start.stderr, 'late')).toEqual([
      `✗ late: exited with code 1 before it became healthy; port ${port} is held: a closed connection 127.0.0.1:${port} → 127.0.0.1:${port} in TIME_WAIT, a connection to itself, which no process owns; the kernel frees it within 60 s`,
      `  hint  wait up to 60 s, then start it again${reserveAdvice(project)}`,
    ])
    expect(start.stderr).toContain(`cannot bind port ${port}`)
  })
})

describe('the reservation warning of qm start', () => {
  test('is printed once, by the qm start that started the daemon, while the range is exposed', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs'))
    const settings = readEphemeralPortSettings()
    const exposed = exposedPorts(project.portRange, settings).length > 0
    const first = await project.qm('start')
    const second = await project.qm('start')
    expect([first.exitCode, second.exitCode]).toEqual([0, 0])
    const warnings = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('warning '))
    expect(warnings(first.stderr)).toEqual(
      exposed
        ? [
            `warning ports ${project.portRange[0]}-${project.portRange[1]} lie in the ephemeral range ${settings.ephemeral[0]}-${settings.ephemeral[1]} and are not reserved, so another program's connection can take one; reserve them: ${reserveCommand(project.portRange, settings)} (qm doctor shows how to keep it)`,
          ]
        : [],
    )
    expect(warnings(second.stderr)).toEqual([])
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
