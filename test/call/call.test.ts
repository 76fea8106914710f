// `qm call` as a user runs it: the built CLI against the built examples, started by hand on
// the port the registry gave them, over mTLS with certificates made for this run.
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'
import {freePort} from '../helpers/listen.js'
import {runQm} from '../helpers/run-qm.js'
import {makeCerts, REPO, startService, stopStartedServices} from '../helpers/services.js'
import {tempDir} from '../helpers/temp-dir.js'

const ECHO = join(REPO, 'dist', 'examples', 'echo', 'server.js')
const CHUNKER = join(REPO, 'dist', 'examples', 'chunker', 'server.js')

beforeAll(() => {
  if (!existsSync(ECHO) || !existsSync(join(REPO, 'dist', 'commands', 'call.js'))) {
    throw new Error(`${ECHO} or dist/commands/call.js is missing: run npm run build first`)
  }
})

afterEach(stopStartedServices)

/** A project whose one port is free now: the registry can hand out nothing else. */
async function project() {
  const dir = tempDir()
  const certs = await makeCerts(join(dir, 'certs'))
  const port = await freePort()
  writeFileSync(
    join(dir, 'services.yaml'),
    `version: 1\nport_range: [${port}, ${port}]\nservices:\n  echo:\n    command: [node, ${ECHO}]\n`,
  )
  const registered = await runQm(['register', 'echo'], {cwd: dir})
  expect(registered, registered.stderr).toMatchObject({exitCode: 0, stdout: String(port)})
  return {dir, certs, port}
}

const records = [
  {meta: {filename: 'a.txt'}, content: {text: 'hello'}},
  {meta: {filename: 'b.txt'}, content: {text: 'world'}},
]

describe('qm call', () => {
  it('prints each frame of a running service as one JSON line and exits 0 on the end-of-stream frame', async () => {
    const {dir, certs, port} = await project()
    const echo = startService([process.execPath, ECHO], {port, certs})
    await echo.waitForLine(/listening on port/)

    const result = await runQm(['call', 'echo', '--data', JSON.stringify(records), '--url', 'https://platform.example'], {cwd: dir})
    expect(result.exitCode, result.stderr).toBe(0)
    const oauth2 = {url: 'https://platform.example'}
    expect(result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([
      {oauth2, data: [records[0]], tod: 'object', eos: false},
      {oauth2, data: [records[1]], tod: 'object', eos: false},
      {oauth2, data: [], tod: 'object', eos: true},
    ])
    expect(result.stderr).toMatch(/^3 frame\(s\) from echo in \d+ ms, version 1\.0\.0$/)
  })

  it('sends a whole --frame to host:port and exits 1 after printing an error frame', async () => {
    const {dir, certs} = await project()
    const port = await freePort()
    const chunker = startService([process.execPath, CHUNKER], {port, certs})
    await chunker.waitForLine(/listening on port/)
    const frame = {data: [{meta: {filename: 'x.txt', chunk_index: 0, chunk_count: 2}, content: {chunk: 'half'}}], eos: true}

    const result = await runQm(['call', `127.0.0.1:${port}`, '--frame', JSON.stringify(frame)], {cwd: dir})
    expect(result.exitCode).toBe(1)
    const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line))
    expect(lines.map((f) => (f.error ? 'error' : f.eos ? 'eos' : f.data[0].meta.progress))).toEqual([50, 'error', 'eos'])
    expect(result.stderr).toBe(`error 127.0.0.1:${port} answered with an error frame: x.txt: missing chunk 1 of 2; the document was not processed`)
  })

  it('says nothing is listening, without dialling, when the service is not running', async () => {
    const {dir, port} = await project()
    const result = await runQm(['call', 'echo'], {cwd: dir})
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `error echo (localhost:${port}): nothing is listening on localhost:${port} (the kernel's socket table shows no listener; not dialled)\nhint  is the service running? qm status shows it`,
    })
  })

  it('reports a server certificate from another CA as a TLS error', async () => {
    const {dir, certs, port} = await project()
    const echo = startService([process.execPath, ECHO], {port, certs})
    await echo.waitForLine(/listening on port/)
    await makeCerts(join(dir, 'other'))
    const result = await runQm(['call', 'echo', '--certs', 'other'], {cwd: dir})
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toBe(`error echo (localhost:${port}): the server's certificate is not signed by ca.crt (other/ca.crt)`)
  })

  it('refuses a name that is not registered, and --data that is not an array of records', async () => {
    const {dir} = await project()
    expect(await runQm(['call', 'ghost'], {cwd: dir})).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'error ghost is not registered on host localhost\nhint  qm endpoints lists what is registered',
    })
    expect(await runQm(['call', 'echo', '--data', '{"meta": {}}'], {cwd: dir})).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: `error --data must be a JSON array of records, got an object\nhint  e.g. --data '[{"meta": {"filename": "a.txt"}, "content": {"text": "hello"}}]'`,
    })
  })
})
