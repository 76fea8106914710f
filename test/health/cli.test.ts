// `qm health` as an operator runs it: the built CLI, real services, the one line it prints
// (execa drops its newline) and the exit code (0 SERVING, 3 anything else). Needs
// `npm run build`, which npm test runs first.
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, describe, expect, test} from 'vitest'
import {runQm} from '../helpers/run-qm.js'
import {makeTempDir, startNodeFixture, stopAllServices, writeBrokenSets} from './support.js'

const BUILT = existsSync(fileURLToPath(new URL('../../dist/commands/health.js', import.meta.url)))

let tmp: ReturnType<typeof makeTempDir>
let sets: Awaited<ReturnType<typeof writeBrokenSets>>

beforeAll(async () => {
  tmp = makeTempDir()
  sets = await writeBrokenSets(tmp.dir)
})
afterAll(() => tmp.remove())
afterEach(stopAllServices)

describe.skipIf(!BUILT)('qm health (built CLI; skipped until `npm run build` has made dist/)', () => {
  test('host:port of a guide-style service: one line, exit 0', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs: sets.good, env: {SERVICE_VERSION: '1.2.0'}})
    const result = await runQm(['health', `127.0.0.1:${service.port}`, '--certs', sets.good.dir], {cwd: tmp.dir})
    expect(result.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1:${service.port} SERVING via quantra\\.MicroService/Call in \\d+\\.\\d ms, version 1\\.2\\.0$`))
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
  })

  test('--json prints the ProbeResult with the target; exit 3 when not SERVING', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs: sets.good, env: {HEALTH_STATUS: 'NOT_SERVING'}})
    const result = await runQm(['health', `127.0.0.1:${service.port}`, '--certs', sets.good.dir, '--json'], {cwd: tmp.dir})
    expect(JSON.parse(result.stdout)).toEqual({
      target: `127.0.0.1:${service.port}`,
      host: '127.0.0.1',
      port: service.port,
      status: 'NOT_SERVING',
      method: 'grpc',
      version: '1.0.0',
      reason: 'the service reports NOT_SERVING on grpc.health.v1',
      latencyMs: expect.any(Number),
    })
    expect(result.exitCode).toBe(3)
  })

  test('a certificate problem: TLS_ERROR with the reason, paths as given, exit 3', async () => {
    const service = await startNodeFixture('guide-call-server.mjs', {certs: sets.good})
    const result = await runQm(['health', `127.0.0.1:${service.port}`, '--certs', 'wrongCa'], {cwd: tmp.dir})
    expect(result.stdout).toBe(`127.0.0.1:${service.port} TLS_ERROR: the server's certificate is not signed by ca.crt (wrongCa/ca.crt)`)
    expect(result.exitCode).toBe(3)
  })

  test('a service name: its port and certificates from the manifest, without --certs', async () => {
    const service = await startNodeFixture('health-server.mjs', {certs: sets.good, env: {SERVICE_VERSION: '4.0.2'}})
    writeFileSync(
      join(tmp.dir, 'services.yaml'),
      `version: 1\nport_range: [${service.port}, ${service.port}]\ndefaults:\n  certs: ./good\nservices:\n  ocr:\n    command: [node, ocr.mjs]\n    port: ${service.port}\n`,
    )
    const result = await runQm(['health', 'ocr'], {cwd: tmp.dir})
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(new RegExp(`^ocr 127\\.0\\.0\\.1:${service.port} SERVING via grpc\\.health\\.v1 in \\d+\\.\\d ms, version 4\\.0\\.2$`))
    expect(result.exitCode).toBe(0)
  })

  test('nothing listening: UNREACHABLE at once, exit 3', async () => {
    const result = await runQm(['health', '127.0.0.1:9', '--certs', sets.good.dir], {cwd: tmp.dir})
    expect(result.stdout).toBe("127.0.0.1:9 UNREACHABLE: nothing is listening on 127.0.0.1:9 (the kernel's socket table shows no listener; not dialled)")
    expect(result.exitCode).toBe(3)
  })

  test('a bad --timeout is a usage error, exit 2', async () => {
    const result = await runQm(['health', '127.0.0.1:9', '--timeout', 'soon'], {cwd: tmp.dir})
    expect(result.stderr).toContain('--timeout must be a duration such as 500ms, 10s or 2m, got "soon"')
    expect(result.exitCode).toBe(2)
  })
})
