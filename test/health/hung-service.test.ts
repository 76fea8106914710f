// A probe command ends within its timeout, always: against a service stopped with SIGSTOP
// (the kernel still accepts its connections, the TLS handshake never finishes), qm health
// says TIMEOUT and exits, as systemd's liveness units and Kubernetes' exec probes need.
import {execa} from 'execa'
import {describe, expect, it} from 'vitest'
import {makeProject, service} from '../helpers/project.js'
import {QM_BIN} from '../helpers/run-qm.js'

describe('qm health against a hung service', () => {
  it('prints TIMEOUT and exits, by name, with --failures-before-exit, and by host:port', async () => {
    const project = await makeProject()
    // No liveness probe during the test: the daemon would restart the hung process.
    project.writeManifest(service('stuck', 'guide-call-server.mjs', '    health: {interval: 1h}\n'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const {pid, port} = JSON.parse((await project.qm('status', 'stuck', '--json')).stdout).services[0]
    process.kill(pid, 'SIGSTOP')
    try {
      // The 20 s limit is no speed check: a qm health that hangs is killed there, and fails.
      const health = (...args: string[]) => execa(process.execPath, [QM_BIN, 'health', ...args], {cwd: project.dir, reject: false, timeout: 20_000, env: {NO_COLOR: '1'}})
      const byName = await health('stuck', '--timeout', '1s')
      expect([byName.exitCode, byName.timedOut]).toEqual([3, false])
      expect(byName.stdout).toMatch(/^stuck 127\.0\.0\.1:\d+ TIMEOUT/)
      const counted = await health('stuck', '--timeout', '1s', '--failures-before-exit', '5')
      expect([counted.exitCode, counted.timedOut]).toEqual([0, false])
      expect(counted.stdout).toContain('1 in a row')
      const byAddress = await health(`127.0.0.1:${port}`, '--timeout', '1s')
      expect([byAddress.exitCode, byAddress.timedOut]).toEqual([3, false])
    } finally {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // gone already
      }
    }
  })
})
