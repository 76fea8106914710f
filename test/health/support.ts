// What the health tests stand on: certificate sets made per run (good ones and each kind
// of broken one), fixture services started in their own process group on a port the
// kernel picks, and Python stubs generated from proto/ once per run.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createCa, createCertificateSet, issueCertificate, serverNames, writeCertificateSet, type IssuedPair} from '../../src/certs/issue.js'
import type {ProbeTarget} from '../../src/grpc/types.js'
import {lacks} from '../helpers/requirements.js'
import {PYTHON} from '../requirements.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url))
export {PYTHON}

const DAY_MS = 86_400_000

export interface CertDir {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

export function certDir(dir: string): CertDir {
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  }
}

export function makeTempDir(prefix = 'qm-health-'): {dir: string; remove: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, remove: () => rmSync(dir, {recursive: true, force: true})}
}

export async function writeGoodSet(dir: string): Promise<CertDir> {
  await writeCertificateSet(dir, await createCertificateSet())
  return certDir(dir)
}

function writePair(dir: string, name: 'server' | 'client' | 'ca', pair: IssuedPair): void {
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, `${name}.crt`), pair.certPem)
  writeFileSync(join(dir, `${name}.key`), pair.keyPem, {mode: 0o600})
}

/**
 * Each set is a whole folder. The service runs with `good` except where its own
 * certificate is the fault (expiredServer, otherName); qm probes with the broken set:
 * - `wrongCa`: qm's ca.crt is another CA than the one that signed server.crt;
 * - `expiredServer`: server.crt expired yesterday;
 * - `foreignClient`: client.crt is signed by a CA the service does not trust;
 * - `otherName`: server.crt names only other.example, not localhost.
 */
export async function writeBrokenSets(root: string): Promise<Record<'good' | 'wrongCa' | 'expiredServer' | 'foreignClient' | 'otherName', CertDir>> {
  const ca = await createCa()
  const other = await createCa({commonName: 'some other CA'})
  const now = Date.now()
  const server = await issueCertificate(ca, {commonName: 'localhost', usage: 'server', sans: serverNames()})
  const client = await issueCertificate(ca, {commonName: 'qm-client', usage: 'client'})
  const sets = {
    good: {ca, server, client},
    wrongCa: {ca: other, server, client},
    expiredServer: {
      ca,
      server: await issueCertificate(ca, {
        commonName: 'localhost',
        usage: 'server',
        sans: serverNames(),
        notBefore: new Date(now - 30 * DAY_MS),
        notAfter: new Date(now - DAY_MS),
      }),
      client,
    },
    foreignClient: {ca, server, client: await issueCertificate(other, {commonName: 'qm-client', usage: 'client'})},
    otherName: {ca, server: await issueCertificate(ca, {commonName: 'other.example', usage: 'server', sans: ['other.example']}), client},
  }
  const out = {} as Record<keyof typeof sets, CertDir>
  for (const [name, set] of Object.entries(sets) as [keyof typeof sets, (typeof sets)['good']][]) {
    const dir = join(root, name)
    writePair(dir, 'ca', set.ca)
    writePair(dir, 'server', set.server)
    writePair(dir, 'client', set.client)
    out[name] = certDir(dir)
  }
  return out
}

export function targetFor(port: number, certs: CertDir, extra: Partial<ProbeTarget> = {}): ProbeTarget {
  return {host: '127.0.0.1', port, certs: {ca: certs.ca, clientCert: certs.clientCert, clientKey: certs.clientKey}, ...extra}
}

export interface RunningService {
  port: number
  pid: number
  child: ChildProcess
  /** Resolves with the first stdout line that starts with the prefix. */
  waitForLine(prefix: string, timeoutMs?: number): Promise<string>
  stop(): Promise<void>
}

const running = new Set<RunningService>()

export interface StartOptions {
  certs: CertDir
  /** The CA the service trusts for client certificates; default certs.ca. */
  serviceCa?: string
  port?: number
  env?: Record<string, string>
  readyTimeoutMs?: number
}

export function startNodeFixture(script: string, options: StartOptions): Promise<RunningService> {
  return startService(process.execPath, [join(FIXTURES, script)], options)
}

export function startPythonGuide(stubsDir: string, options: StartOptions): Promise<RunningService> {
  return startService(PYTHON, [join(FIXTURES, 'python', 'guide_server.py')], {
    ...options,
    // No __pycache__ beside the fixture in the source tree.
    env: {PYTHONPATH: stubsDir, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...options.env},
  })
}

async function startService(command: string, script: string[], options: StartOptions): Promise<RunningService> {
  const {certs} = options
  const args = [
    ...script,
    '--port', String(options.port ?? 0),
    '--ca-cert', options.serviceCa ?? certs.ca,
    '--server-cert', certs.serverCert,
    '--server-key', certs.serverKey,
    '--max-workers', '4',
    '--log-level', 'WARNING',
  ]
  // detached: its own process group, so stop() reaches anything it started too.
  const child = spawn(command, args, {detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...options.env}})
  let stdout = ''
  let stderr = ''
  const lineWaiters: Array<() => void> = []
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const wake of lineWaiters.splice(0)) wake()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('exit', () => {
    for (const wake of lineWaiters.splice(0)) wake()
  })

  const waitForLine = (prefix: string, timeoutMs = 15_000): Promise<string> => {
    const startedMs = performance.now()
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = stdout.split('\n').find((l) => l.startsWith(prefix))
        if (line !== undefined) return resolve(line)
        if (child.exitCode !== null || child.signalCode !== null) {
          return reject(new Error(`expected a line starting ${JSON.stringify(prefix)} from ${script.join(' ')}; it exited (${child.exitCode ?? child.signalCode}) after ${Math.round(performance.now() - startedMs)} ms with stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`))
        }
        if (performance.now() - startedMs > timeoutMs) {
          return reject(new Error(`expected a line starting ${JSON.stringify(prefix)} from ${script.join(' ')} within ${timeoutMs} ms; saw stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`))
        }
        lineWaiters.push(check)
        setTimeout(check, 50)
      }
      check()
    })
  }

  const service: RunningService = {
    port: 0,
    pid: child.pid!,
    child,
    waitForLine,
    async stop() {
      running.delete(service)
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch (err) {
          // ESRCH: the group is already gone.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
        }
        await exited
      }
    },
  }
  running.add(service)
  try {
    const line = await waitForLine('READY port=', options.readyTimeoutMs)
    service.port = Number(line.slice('READY port='.length))
  } catch (err) {
    await service.stop()
    throw err
  }
  return service
}

/** For afterEach: kills the process group of every service a test started and left running. */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()))
}

/**
 * microservice_pb2 and microservice_pb2_grpc, generated from proto/microservice.proto with
 * Debian's grpc-tools the way the guide's section 12.2 does. Returns the reason instead when
 * the packages are missing and QM_TEST_SKIP_MISSING=1 allows skipping what needs them.
 */
export function generatePythonStubs(outDir: string): {ok: true} | {ok: false; reason: string} {
  if (lacks('python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources')) {
    return {ok: false, reason: 'QM_TEST_SKIP_MISSING=1 and python3-grpcio, python3-grpc-tools or python3-pkg-resources is missing'}
  }
  const gen = spawnSync(
    PYTHON,
    ['-m', 'grpc_tools.protoc', `-I${PROTO_DIR}`, `--python_out=${outDir}`, `--grpc_python_out=${outDir}`, join(PROTO_DIR, 'microservice.proto')],
    {encoding: 'utf8'},
  )
  if (gen.status !== 0) throw new Error(`grpc_tools.protoc failed: ${gen.stderr}`)
  return {ok: true}
}
