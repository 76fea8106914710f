// The fault suite: tries to make qm lose a service, start a duplicate or hand out a port
// twice, with real processes and real signals, then checks the invariants: every service
// runs exactly once, on its registered port, and the registry and the kernel agree.
import {readdirSync, readFileSync} from 'node:fs'
import {createConnection} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {daemonPaths} from '../../src/control/paths.js'
import {findPortHolders} from '../../src/net/port-holders.js'
import {ChildRecords} from '../../src/registry/child-records.js'
import {isAlive, makeProject, service, waitFor, type Project} from '../helpers/project.js'

const NAMES = ['svc_a', 'svc_b', 'svc_c', 'svc_d']

function manifest(project: Project): void {
  project.writeManifest(NAMES.map((name) => service(name, 'guide-call-server.mjs', '    backoff: {initial: 50ms, max: 200ms, max_failures: 1000}\n')).join(''))
}

/** Pids of every process whose command line mentions this project's folder: qm's services. */
function projectProcesses(project: Project): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (argv.includes('--ca-cert') && argv.some((arg) => arg.startsWith(project.dir))) pids.push(Number(entry))
    } catch {
      continue // the process ended while we looked
    }
  }
  return pids
}

function recorded(project: Project) {
  const records = ChildRecords.openReadOnly(join(project.dir, '.qm', 'state.sqlite3'))
  const all = records?.all() ?? []
  records?.close()
  return all
}

async function statusRows(project: Project) {
  const result = await project.qm('status', '--json')
  return JSON.parse(result.stdout).services as {name: string; state: string; pid: number | null; port: number | null; health: {status: string} | null}[]
}

/** Every service running and SERVING exactly once, on its registered port, the kernel agreeing. */
async function expectConsistent(project: Project): Promise<void> {
  const rows = await waitFor(async () => {
    const all = await statusRows(project)
    return all.every((row) => row.state === 'running' && row.health?.status === 'SERVING') ? all : undefined
  }, 'every service running and SERVING', 30_000)
  const endpoints = await project.endpoints()
  for (const row of rows) {
    const endpoint = endpoints.find((e) => e.name === row.name)
    expect(endpoint, row.name).toMatchObject({port: row.port, active: true})
    const listeners = findPortHolders(row.port!).filter((holder) => holder.state === 'LISTEN')
    expect(listeners.map((holder) => holder.pid), `${row.name} on ${row.port}`).toEqual([row.pid])
  }
  expect(new Set(endpoints.map((e) => e.port)).size).toBe(endpoints.length)
  // No second copy and no orphan: exactly one process per service.
  await waitFor(() => projectProcesses(project).length === NAMES.length, `exactly ${NAMES.length} service processes`, 10_000)
  expect(projectProcesses(project).sort()).toEqual(rows.map((row) => row.pid).sort())
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!

describe('fault suite', () => {
  it('survives 100 kill -9 of services at random moments during starts, stops and restarts', async () => {
    const project = await makeProject()
    manifest(project)
    expect((await project.qm('start')).exitCode).toBe(0)
    let kills = 0
    let chaos = true
    const operator = (async () => {
      while (chaos) {
        const name = pick(NAMES)
        const verb = pick(['restart', 'stop', 'start'] as const)
        await project.qm(verb, name)
        if (verb === 'stop') await project.qm('start', name)
      }
    })()
    while (kills < 100) {
      await sleep(20 + Math.random() * 150)
      const victims = recorded(project).filter((record) => record.pid !== null && isAlive(record.pid))
      if (victims.length === 0) continue
      try {
        process.kill(pick(victims).pid!, 'SIGKILL')
        kills++
      } catch {
        continue // it ended between the look and the kill
      }
    }
    chaos = false
    await operator
    expect((await project.qm('start')).exitCode).toBe(0)
    await expectConsistent(project)
  })

  it('recovers with no duplicate and no orphan when the daemon dies mid-start and mid-stop', async () => {
    const project = await makeProject()
    manifest(project)
    const starting = project.qmStart('start')
    await waitFor(() => recorded(project).some((record) => record.state === 'starting'), 'a service starting')
    const daemon = project.daemonPid()!
    process.kill(daemon, 'SIGKILL')
    await starting
    const restarted = await project.qm('start')
    expect(restarted.exitCode, restarted.stderr).toBe(0)
    await expectConsistent(project)

    const stopping = project.qmStart('stop')
    await waitFor(() => recorded(project).some((record) => record.state === 'stopping' || record.state === 'stopped'), 'a service stopping')
    process.kill(project.daemonPid()!, 'SIGKILL')
    await stopping
    const startedAgain = await project.qm('start')
    expect(startedAgain.exitCode, startedAgain.stderr).toBe(0)
    await expectConsistent(project)
  })

  it('ends consistent after 10 concurrent start, stop, restart and register commands', async () => {
    const project = await makeProject()
    manifest(project)
    expect((await project.qm('start')).exitCode).toBe(0)
    const commands = [
      ['start'], ['stop', 'svc_a'], ['restart', 'svc_b'], ['register', 'extra_one'], ['start', 'svc_a'],
      ['restart'], ['register', 'extra_two'], ['stop', 'svc_c'], ['start', 'svc_c'], ['register', 'extra_one'],
    ]
    const results = await Promise.all(commands.map((args) => project.qmStart(...args)))
    for (const [i, result] of results.entries()) expect(result.exitCode, `${commands[i]!.join(' ')}: ${String(result.stderr)}`).toBe(0)
    expect((await project.qm('start')).exitCode).toBe(0)
    await expectConsistent(project)
    const extras = (await project.endpoints()).filter((e) => e.name.startsWith('extra_'))
    expect(extras.map((e) => e.name).sort()).toEqual(['extra_one', 'extra_two'])
  })

  it('answers malformed and oversized control messages with an error and serves the next real command', async () => {
    const project = await makeProject()
    manifest(project)
    expect((await project.qm('start', 'svc_a')).exitCode).toBe(0)
    const socketPath = daemonPaths(join(project.dir, '.qm')).socket
    const exchange = (payload: string | Buffer) =>
      new Promise<string>((resolve) => {
        const socket = createConnection(socketPath)
        let reply = ''
        socket.on('data', (chunk) => {
          reply += chunk.toString()
          if (reply.includes('\n')) socket.end()
        })
        socket.on('close', () => resolve(reply))
        socket.on('error', () => resolve(reply))
        socket.write(payload)
      })
    expect(JSON.parse(await exchange('this is not json\n'))).toMatchObject({id: 0, error: {code: 'BAD_REQUEST', message: 'control message is not JSON'}})
    expect(JSON.parse(await exchange('{"id": 7, "method": "format-disk"}\n'))).toMatchObject({id: 7, error: {code: 'BAD_REQUEST'}})
    expect(JSON.parse(await exchange('{"id": 8, "method": "stop", "params": {"names": [1, 2]}}\n'))).toMatchObject({id: 8, error: {code: 'BAD_REQUEST'}})
    expect(JSON.parse(await exchange(Buffer.alloc(2 * 1024 * 1024, 'x')))).toMatchObject({error: {code: 'BAD_REQUEST', message: 'control message longer than 1048576 bytes'}})
    const half = createConnection(socketPath)
    half.write('{"id": 1, "method": "st')
    half.destroy()
    const rows = await statusRows(project)
    expect(rows.find((row) => row.name === 'svc_a')).toMatchObject({state: 'running'})
    expect(isAlive(project.daemonPid()!)).toBe(true)
  })
})
