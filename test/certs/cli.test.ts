// Runs `qm certs init` and `qm certs check` through the built CLI (npm run build first).
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {chmod, mkdtemp, readFile, readdir, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

const BIN = resolve(import.meta.dirname, '../../bin/run.js')
const FILES = ['ca.crt', 'ca.key', 'client.crt', 'client.key', 'server.crt', 'server.key']

interface Run {
  code: number
  stdout: string
  stderr: string
}

function qm(cwd: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1'}
  delete env.QM_MANIFEST
  delete env.FORCE_COLOR
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], {cwd, env, timeout: 20_000}, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      done({code, stdout, stderr})
    })
  })
}

beforeAll(() => {
  if (!existsSync(resolve(import.meta.dirname, '../../dist/commands/certs/check.js'))) {
    throw new Error('dist/commands/certs is missing: run npm run build before these tests')
  }
})

describe('qm certs (built CLI)', () => {
  let cwd: string

  beforeEach(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'qm-certs-cli-'))
  })

  afterEach(async () => {
    await rm(cwd, {recursive: true, force: true})
  })

  it('init writes the set and check passes it', async () => {
    const init = await qm(cwd, 'certs', 'init', '--dir', 'tls', '--host', 'worker-2.internal', '--days', '90')
    expect(init.code).toBe(0)
    expect(init.stdout).toBe(
      ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'].map((f) => `wrote tls/${f}\n`).join(''),
    )
    expect(init.stderr).toContain('server certificate names: localhost, 127.0.0.1, ::1, ')
    expect(init.stderr).toContain(', worker-2.internal\n')
    expect((await readdir(join(cwd, 'tls'))).sort()).toEqual(FILES)
    expect((await stat(join(cwd, 'tls', 'server.key'))).mode & 0o777).toBe(0o600)

    const check = await qm(cwd, 'certs', 'check', '--dir', 'tls', '--host', 'worker-2.internal')
    expect(check.code).toBe(0)
    const lines = check.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(15)
    expect(lines.every((l) => l.startsWith('OK    tls/'))).toBe(true)
    expect(lines).toContain('OK    tls/server.crt  covers host worker-2.internal')
    expect(check.stderr).toBe('host worker-2.internal: 0 error(s), 0 warning(s)\n')
  })

  it('init refuses to overwrite without --force and writes nothing', async () => {
    expect((await qm(cwd, 'certs', 'init')).code).toBe(0)
    const before = await Promise.all(FILES.map((f) => readFile(join(cwd, 'certs', f), 'utf8')))
    const again = await qm(cwd, 'certs', 'init')
    expect(again.code).toBe(1)
    expect(again.stdout).toBe('')
    const listed = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'].map((f) => join(cwd, 'certs', f))
    expect(again.stderr).toBe(
      `error certificate files already exist: ${listed.join(', ')}\n` +
        'hint  pass --force to replace the whole set (services using the old CA will need restarting)\n',
    )
    expect(await Promise.all(FILES.map((f) => readFile(join(cwd, 'certs', f), 'utf8')))).toEqual(before)

    const forced = await qm(cwd, 'certs', 'init', '--force')
    expect(forced.code).toBe(0)
    const after = await Promise.all(FILES.map((f) => readFile(join(cwd, 'certs', f), 'utf8')))
    expect(after.every((text, i) => text !== before[i])).toBe(true)
  })

  it('init --json reports what it wrote and rejects a bad --host with exit 2', async () => {
    const init = await qm(cwd, 'certs', 'init', '--json', '--host', '10.0.0.12')
    expect(init.code).toBe(0)
    const result = JSON.parse(init.stdout) as {dir: string; files: string[]; serverNames: string[]}
    expect(result.dir).toBe(join(cwd, 'certs'))
    expect(result.files).toHaveLength(6)
    expect(result.serverNames.slice(0, 3)).toEqual(['localhost', '127.0.0.1', '::1'])
    expect(result.serverNames.at(-1)).toBe('10.0.0.12')

    const bad = await qm(cwd, 'certs', 'init', '--dir', 'other', '--host', 'not a host')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('error "not a host" is neither an IP address nor a host name\n')
    expect(existsSync(join(cwd, 'other'))).toBe(false)
  })

  it('check prints one line per finding and exits 1 on a world-readable key', async () => {
    expect((await qm(cwd, 'certs', 'init')).code).toBe(0)
    await chmod(join(cwd, 'certs', 'client.key'), 0o644)
    const check = await qm(cwd, 'certs', 'check')
    expect(check.code).toBe(1)
    expect(check.stdout).toContain(
      `FAIL  certs/client.key  is readable by group and others (mode 0644); run chmod 600 ${join(cwd, 'certs', 'client.key')}\n`,
    )
    expect(check.stderr).toBe('host localhost: 1 error(s), 0 warning(s)\n')
  })

  it('check --json gives the findings and the same exit code', async () => {
    const check = await qm(cwd, 'certs', 'check', '--json')
    expect(check.code).toBe(1)
    const result = JSON.parse(check.stdout) as {host: string; errors: number; findings: unknown[]}
    expect(result.host).toBe('localhost')
    expect(result.errors).toBe(5)
    expect(result.findings).toContainEqual({level: 'fail', file: join(cwd, 'certs', 'ca.crt'), message: 'is missing'})
  })
})
