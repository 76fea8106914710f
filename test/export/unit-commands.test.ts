// The small additions the exported units run: `qm register NAME --active/--inactive` on an
// existing row, `qm health NAME --wait`, and `qm health NAME --failures-before-exit N`.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FIXTURES, workerPortRange} from '../helpers/project.js'
import {startService, stopStartedServices} from '../helpers/services.js'
import {certPathsOf, exportProject} from './support.js'

afterEach(stopStartedServices)

async function project() {
  const [first, last] = workerPortRange()
  return exportProject(
    [
      'version: 1',
      `port_range: [${first}, ${last}]`,
      'defaults:',
      '  health: {timeout: 1s}',
      'services:',
      '  echo:',
      `    command: [${process.execPath}, ${join(FIXTURES, 'guide-call-server.mjs')}]`,
      '',
    ].join('\n'),
  )
}

describe('qm register --active / --inactive', () => {
  it('sets is_active of an existing row and nothing else; without either flag the row stays as it is', async () => {
    const p = await project()
    expect((await p.qm('register', 'echo', '--inactive')).exitCode).toBe(0)
    const [row] = await p.rows()
    expect(row).toMatchObject({name: 'echo', active: false})
    const active = await p.qm('register', 'echo', '--port', String(row!.port), '--active')
    expect(active).toEqual({exitCode: 0, stdout: String(row!.port), stderr: `echo was already registered on port ${row!.port}`})
    expect(await p.rows()).toEqual([{...row, active: true}])
    expect((await p.qm('register', 'echo')).exitCode).toBe(0)
    expect(await p.rows()).toEqual([{...row, active: true}])
    expect(JSON.parse((await p.qm('register', 'echo', '--inactive', '--json')).stdout)).toEqual({endpoint: {...row, active: false}, created: false})
    expect(await p.rows()).toEqual([{...row, active: false}])
    const both = await p.qm('register', 'echo', '--active', '--inactive')
    expect(both.exitCode).toBe(2)
    expect(await p.rows()).toEqual([{...row, active: false}])
  })
})

describe('qm health --wait and --failures-before-exit', () => {
  it('--wait probes until the service answers SERVING, and gives up with exit 3 after the duration', async () => {
    const p = await project()
    const port = Number((await p.qm('register', 'echo')).stdout)
    const started = performance.now()
    const nobody = await p.qm('health', 'echo', '--wait', '1500ms')
    expect(nobody.exitCode).toBe(3)
    expect(nobody.stdout).toMatch(new RegExp(`^echo 127\\.0\\.0\\.1:${port} UNREACHABLE: `))
    expect(performance.now() - started).toBeGreaterThan(1500)

    const waiting = p.qm('health', 'echo', '--wait', '20s')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const service = startService([process.execPath, join(FIXTURES, 'guide-call-server.mjs')], {port, certs: certPathsOf(p.dir)})
    const answered = await waiting
    expect(answered.exitCode, answered.stdout).toBe(0)
    expect(answered.stdout).toMatch(new RegExp(`^echo 127\\.0\\.0\\.1:${port} SERVING via quantra\\.MicroService/Call`))
    await service.kill()

    const bad = await p.qm('health', 'echo', '--wait', 'soon')
    expect(bad).toEqual({exitCode: 2, stdout: '', stderr: 'error --wait must be a duration such as 500ms, 10s or 2m, got "soon"'})
  })

  it('--failures-before-exit N exits 3 only at the Nth failure in a row, then counts afresh; SERVING ends the streak', async () => {
    const p = await project()
    const port = Number((await p.qm('register', 'echo')).stdout)
    const streak = join(p.dir, '.qm', 'health', 'echo.failures')
    const run = async () => {
      const result = await p.qm('health', 'echo', '--failures-before-exit', '2')
      return [result.exitCode, result.stdout.replace(/^.*; /, '')]
    }
    expect(await run()).toEqual([0, '1 in a row'])
    expect(await run()).toEqual([3, '2 in a row'])
    expect(existsSync(streak)).toBe(false)
    expect(await run()).toEqual([0, '1 in a row'])

    const service = startService([process.execPath, join(FIXTURES, 'guide-call-server.mjs')], {port, certs: certPathsOf(p.dir)})
    await service.waitForLine(/READY/)
    const serving = await p.qm('health', 'echo', '--failures-before-exit', '2')
    expect(serving.exitCode).toBe(0)
    expect(serving.stdout).toMatch(/ SERVING via /)
    expect(existsSync(streak)).toBe(false)
    await service.kill()
    expect(await run()).toEqual([0, '1 in a row'])

    const byAddress = await p.qm('health', `127.0.0.1:${port}`, '--failures-before-exit', '2')
    expect(byAddress).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error --failures-before-exit needs a service NAME, not host:port\nhint  the count is kept per service beside its manifest',
    })
  })
})
