// The registry commands as separate processes against one SQLite file: concurrency,
// exhaustion, foreign listeners, and the exact words a user reads.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import {freePort, listenOn} from '../helpers/listen.js'
import {runQm, startQm} from '../helpers/run-qm.js'
import {workerPortRange} from '../helpers/project.js'
import {tempDir} from '../helpers/temp-dir.js'

// A range of this test process's own, so that services running on the host (the README's
// demo on 50051-50053, another test run) do not move the ports these tests expect.
const [FIRST, LAST] = workerPortRange()
const RANGE = `${FIRST}-${LAST}`

function project(extra = `port_range: [${FIRST}, ${LAST}]\n`): string {
  const dir = tempDir()
  writeFileSync(join(dir, 'services.yaml'), `version: 1\n${extra}services:\n  echo:\n    command: [node, server.mjs]\n`)
  return dir
}

async function rows(dir: string) {
  const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
  try {
    return await store.list()
  } finally {
    await store.close()
  }
}

describe('qm register', () => {
  it('gives 20 processes started at once 20 distinct ports, then refuses when the range is full', async () => {
    const dir = project()
    const names = Array.from({length: 20}, (_, i) => `svc_${i}`)
    const results = await Promise.all(names.map((name) => startQm(['register', name], {cwd: dir})))
    for (const result of results) expect(result.exitCode, String(result.stderr)).toBe(0)
    const ports = results.map((result) => Number(result.stdout))
    expect(new Set(ports).size).toBe(20)
    for (const port of ports) expect(port >= FIRST && port <= LAST).toBe(true)

    const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
    try {
      for (let i = 0; ; i++) {
        try {
          await store.register({name: `fill_${i}`, host: 'localhost', active: true, range: [FIRST, LAST], portInUse: () => undefined})
        } catch {
          break // the range is full
        }
      }
    } finally {
      await store.close()
    }
    const before = await rows(dir)
    expect(before).toHaveLength(40)
    const refused = await runQm(['register', 'one_more'], {cwd: dir})
    expect(refused.exitCode).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toBe(
      `error no free port in ${RANGE} on host localhost\nhint  unregister a service you no longer run (qm unregister NAME) or widen port_range in the manifest`,
    )
    expect(await rows(dir)).toEqual(before)
  })

  it('skips a port a foreign process listens on, and refuses it by number naming the process', async () => {
    const port = await freePort()
    await listenOn(port)
    const dir = project(`port_range: [${port}, ${port + 3}]\n`)
    const allocated = await runQm(['register', 'echo'], {cwd: dir})
    expect(allocated.exitCode).toBe(0)
    expect(Number(allocated.stdout)).toBeGreaterThan(port)

    const refused = await runQm(['register', 'ocr', '--port', String(port)], {cwd: dir})
    expect(refused.exitCode).toBe(1)
    const firstLine = refused.stderr.split('\n')[0]!
    expect(firstLine).toMatch(new RegExp(`^error port ${port} is in use on this host: pid ${process.pid} \\(.*node.*\\) listens on 127\\.0\\.0\\.1:${port}$`))
    expect((await rows(dir)).map((row) => row.name)).toEqual(['echo'])
  })

  it('is idempotent for a known name and prints its port again', async () => {
    const dir = project()
    const first = await runQm(['register', 'echo', '--port', String(FIRST + 19)], {cwd: dir})
    const again = await runQm(['register', 'echo'], {cwd: dir})
    expect([first.stdout, again.stdout]).toEqual([String(FIRST + 19), String(FIRST + 19)])
    expect(again.stderr).toBe(`echo was already registered on port ${FIRST + 19}`)
    const json = await runQm(['register', 'echo', '--json'], {cwd: dir})
    expect(JSON.parse(json.stdout)).toMatchObject({created: false, endpoint: {name: 'echo', port: FIRST + 19, host: 'localhost', protocol: 'grpc', active: true}})
  })

  it('refuses bad input with exit 2 or 1 and the words to fix it, changing nothing', async () => {
    const dir = project()
    await runQm(['register', 'echo', '--port', String(FIRST + 9)], {cwd: dir})
    const before = await rows(dir)
    const cases: [string[], number, string][] = [
      [['register', 'Echo'], 2, 'error "Echo" is not a valid service name'],
      [['register', 'ocr', '--port', '8080'], 2, `error port 8080 is outside ${RANGE}`],
      [['register', 'ocr', '--port', String(FIRST + 9)], 1, `error port ${FIRST + 9} is already registered to echo (host localhost)`],
      [['register', 'echo', '--port', String(FIRST + 10)], 1, `error echo is already registered on port ${FIRST + 9} (host localhost)`],
      [['unregister', 'ocr'], 1, 'error ocr is not registered on host localhost'],
    ]
    for (const [args, exitCode, message] of cases) {
      const result = await runQm(args, {cwd: dir})
      expect({args, exitCode: result.exitCode, line: result.stderr.split('\n')[0]}).toEqual({args, exitCode, line: message})
    }
    expect(await rows(dir)).toEqual(before)
  })
})

describe('qm endpoints and unregister', () => {
  it('lists port, name, state and host with the free count, and --json the same', async () => {
    const dir = project()
    // The ports the registry gave: the lowest free ones, but a port of the range that the
    // kernel shows in use (another program's connection) is skipped, as it should be.
    const echoPort = Number((await runQm(['register', 'echo'], {cwd: dir})).stdout)
    const ocrPort = Number((await runQm(['register', 'ocr', '--inactive'], {cwd: dir})).stdout)
    expect(echoPort).toBeGreaterThanOrEqual(FIRST)
    expect(ocrPort).toBeGreaterThan(echoPort)
    const table = await runQm(['endpoints'], {cwd: dir})
    expect(table.stdout).toBe(
      [
        'PORT   NAME  STATUS    HOST       PROTOCOL',
        `${echoPort}  echo  ACTIVE    localhost  grpc`,
        `${ocrPort}  ocr   INACTIVE  localhost  grpc`,
        `2 registered, 38 of 40 ports free in ${RANGE} on localhost`,
      ].join('\n'),
    )
    const json = JSON.parse((await runQm(['endpoints', '--json'], {cwd: dir})).stdout)
    expect(json).toEqual({
      host: 'localhost',
      portRange: [FIRST, LAST],
      free: 38,
      endpoints: [
        {id: 1, name: 'echo', host: 'localhost', port: echoPort, protocol: 'grpc', active: true},
        {id: 2, name: 'ocr', host: 'localhost', port: ocrPort, protocol: 'grpc', active: false},
      ],
    })
    const removed = await runQm(['unregister', 'ocr'], {cwd: dir})
    expect(removed.stdout).toBe(`unregistered ocr (port ${ocrPort}, host localhost)`)
    expect((await rows(dir)).map((row) => row.name)).toEqual(['echo'])
  })
})
