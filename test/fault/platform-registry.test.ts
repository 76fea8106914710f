// qm sharing its SQLite registry with the platform's own Django process, as the guide has it:
// Django made the file and its table, Django holds write locks while it saves, and Django's
// later migrations add columns. The daemon must supervise at full speed through a lock, wait
// for the file rather than fail at first contact, leave Django's journal mode alone, and
// turn every SQLite error into a message that names the table and the column.
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {djangoPlatform} from '../helpers/django.js'
import {makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {lacks} from '../helpers/requirements.js'

const REGISTRY = 'platform.sqlite3'

function journalMode(file: string): string {
  const db = new Database(file, {readonly: true})
  try {
    return String(db.pragma('journal_mode', {simple: true}))
  } finally {
    db.close()
  }
}

async function platformProject(names: string[]): Promise<{project: Project; django: ReturnType<typeof djangoPlatform>; file: string}> {
  const project = await makeProject()
  const file = join(project.dir, REGISTRY)
  const django = djangoPlatform(file)
  django.manage('migrate', 'core', '0001')
  project.writeManifest(names.map((name) => service(name, 'guide-call-server.mjs')).join(''), `registry: {path: ${REGISTRY}, table: core_serviceendpoint, host: localhost}\n`)
  return {project, django, file}
}

async function statusOf(project: Project, name: string) {
  const result = await project.qm('status', '--json', name)
  return JSON.parse(result.stdout).services[0] as {state: string; pid: number | null; health: {status: string} | null}
}

describe.skipIf(lacks('python3-django'))("the platform's Django process on the same SQLite registry", () => {
  it('supervises at full speed while Django holds an exclusive lock, and writes the rows in order once it is released', async () => {
    const {project, django, file} = await platformProject(['svc_a', 'svc_b', 'svc_c'])
    expect((await project.qm('start')).exitCode).toBe(0)
    const before = django.rows()
    expect(before.map(([name, , , active]) => [name, active])).toEqual([['svc_a', true], ['svc_b', true], ['svc_c', true]])
    const killed = (await statusOf(project, 'svc_a')).pid!

    const lock = await django.holdLock(8, {exclusive: true})
    try {
      process.kill(killed, 'SIGKILL')
      const back = await waitFor(async () => {
        const row = await statusOf(project, 'svc_a')
        return row.state === 'running' && row.pid !== killed && row.health?.status === 'SERVING' ? row : undefined
      }, 'svc_a running again with a new pid', 5_000)
      expect(back.pid).not.toBe(killed)
      const status = await project.qm('status')
      expect(status.exitCode, status.stdout + status.stderr).toBe(0)
      const stopped = await project.qm('stop', 'svc_c')
      expect(stopped.exitCode, stopped.stderr).toBe(0)
      // All of it happened while Django still held the lock.
      const doneAtMs = Date.now()
      expect(doneAtMs).toBeLessThan(await lock.releasedAtMs)
    } finally {
      await lock.releasedAtMs.catch(() => undefined)
    }

    await waitFor(() => {
      const rows = django.rows()
      return rows.length === 3 && rows.every(([name, , , active]) => active === (name !== 'svc_c')) ? rows : undefined
    }, 'the rows written once the lock was released: svc_a and svc_b active, svc_c inactive', 10_000)
    // Same rows, same ports: nothing lost, nothing written twice.
    expect(django.rows().map(([name, host, port]) => [name, host, port])).toEqual(before.map(([name, host, port]) => [name, host, port]))
    expect(journalMode(file)).toBe('delete')
    const status = await project.qm('status', '--json')
    expect(JSON.parse(status.stdout).registry).toEqual({pendingWrites: 0, lastError: null})
  })

  it('waits for a lock at first contact instead of failing, and leaves the journal mode of the file Django made alone', async () => {
    const {project, django, file} = await platformProject(['svc_a'])
    expect(journalMode(file)).toBe('delete')
    const lock = await django.holdLock(1.5)
    const registered = await project.qm('register', 'svc_new', '--json')
    // It could not have been written before Django let go.
    const registeredAtMs = Date.now()
    expect(registeredAtMs).toBeGreaterThanOrEqual(await lock.releasedAtMs)
    expect(registered.exitCode, registered.stderr).toBe(0)
    expect(JSON.parse(registered.stdout)).toMatchObject({endpoint: {name: 'svc_new', host: 'localhost', port: project.portRange[0]}, created: true})
    expect(django.rows()).toEqual([['svc_new', 'localhost', project.portRange[0], true]])
    expect(journalMode(file)).toBe('delete')
  })

  it('names the table and the column when a migration adds a NOT NULL column qm cannot fill, changes nothing, and qm doctor says so', async () => {
    const {project, django} = await platformProject(['svc_a'])
    expect((await project.qm('register', 'svc_a')).exitCode).toBe(0)
    django.manage('migrate', 'core', '0002')

    const text = await project.qm('register', 'svc_b')
    expect(text).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        `error cannot register svc_b in ${join(project.dir, REGISTRY)}: table core_serviceendpoint has a column region that must not be NULL and has no default, and qm writes only id, name, host, port, protocol, is_active\n` +
        "hint  give region a default in the platform's migration (or let it be NULL), so rows without it can be written",
    })
    const json = await project.qm('register', 'svc_b', '--json')
    expect(json.exitCode).toBe(1)
    expect(JSON.parse(json.stdout).error).toMatchObject({code: 'REGISTRY_SCHEMA', exitCode: 1})
    expect(django.rows()).toEqual([['svc_a', 'localhost', project.portRange[0], true]])

    const doctor = await project.qm('doctor', '--json')
    const registry = (JSON.parse(doctor.stdout).checks as {name: string; status: string; message: string}[]).find((c) => c.name === 'registry')
    expect(doctor.exitCode).toBe(1)
    expect(registry).toMatchObject({status: 'FAIL'})
    expect(registry!.message).toContain(`qm cannot insert a row into table core_serviceendpoint in ${REGISTRY} (tried in a transaction it rolled back): `)
    expect(registry!.message).toContain('has a column region that must not be NULL and has no default')
  })
})
