// Services started by hand the way qm starts them: the six standard arguments, a process
// group of their own, stdout and stderr kept for the failure message. Every service a test
// starts is killed (its whole group) by stopStartedServices(), meant for afterEach.
import {spawn, type ChildProcess} from 'node:child_process'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {createCertificateSet, writeCertificateSet} from '../../src/certs/issue.js'
import type {CertPaths} from '../../src/manifest/types.js'

export {PYTHON} from '../requirements.js'
export const REPO = fileURLToPath(new URL('../../', import.meta.url))

/** Node's --import argument that runs TypeScript sources directly. */
export const TSX_IMPORT = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

export async function makeCerts(dir: string): Promise<CertPaths> {
  await writeCertificateSet(dir, await createCertificateSet())
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  }
}

export interface StartedService {
  pid: number
  child: ChildProcess
  output(): string
  /** Resolves with the first output line matching, rejects when the process exits first or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** SIGTERM to the process itself, as qm's stop sends it; resolves with its exit code or signal. */
  terminate(timeoutMs?: number): Promise<{code: number | null; signal: NodeJS.Signals | null}>
  kill(): Promise<void>
}

const started = new Set<StartedService>()

export interface StartOptions {
  port: number
  certs: CertPaths
  cwd?: string
  env?: Record<string, string>
  logLevel?: string
}

export function startService(argv: string[], options: StartOptions): StartedService {
  const [command, ...rest] = argv
  const args = [
    ...rest,
    '--port', String(options.port),
    '--ca-cert', options.certs.ca,
    '--server-cert', options.certs.serverCert,
    '--server-key', options.certs.serverKey,
    '--max-workers', '4',
    '--log-level', options.logLevel ?? 'INFO',
  ]
  const child = spawn(command!, args, {
    cwd: options.cwd ?? REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, PYTHONUNBUFFERED: '1', ...options.env},
  })
  let text = ''
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const w of wakers) w()
  }
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
    wake()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
    wake()
  })
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({code, signal})
      wake()
    }),
  )
  const describe = () => `${argv.join(' ')} --port ${options.port}`

  const service: StartedService = {
    pid: child.pid!,
    child,
    output: () => text,
    waitForLine(pattern, timeoutMs = 20_000) {
      const startedMs = performance.now()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(check, timeoutMs)
        function check() {
          const line = text.split('\n').find((l) => pattern.test(l))
          const done = (fn: () => void) => {
            clearTimeout(timer)
            wakers.delete(check)
            fn()
          }
          if (line !== undefined) return done(() => resolve(line))
          const elapsed = Math.round(performance.now() - startedMs)
          if (child.exitCode !== null || child.signalCode !== null) {
            return done(() => reject(new Error(`expected a line matching ${pattern} from ${describe()}; it exited (${child.exitCode ?? child.signalCode}) after ${elapsed} ms with output:\n${text}`)))
          }
          if (elapsed >= timeoutMs) return done(() => reject(new Error(`expected a line matching ${pattern} from ${describe()} within ${timeoutMs} ms; output:\n${text}`)))
        }
        wakers.add(check)
        check()
      })
    },
    async terminate(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${describe()} did not exit within ${timeoutMs} ms of SIGTERM; output:\n${text}`)), timeoutMs).unref())
      const result = await Promise.race([exited, timeout])
      started.delete(service)
      return result
    },
    async kill() {
      started.delete(service)
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch (err) {
        // ESRCH: the group is gone already.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
      }
      if (child.exitCode === null && child.signalCode === null) await exited
    },
  }
  started.add(service)
  return service
}

/** For afterEach: kills the process group of every service still running. */
export async function stopStartedServices(): Promise<void> {
  await Promise.all([...started].map((s) => s.kill()))
}

/** Polls until check returns a value other than undefined; the error says what was last seen. */
export async function waitFor<T>(check: () => Promise<T | undefined>, {timeoutMs, what}: {timeoutMs: number; what: string}): Promise<T> {
  const startedMs = performance.now()
  let last: unknown
  for (;;) {
    const value = await check().catch((err: unknown) => {
      last = err
      return undefined
    })
    if (value !== undefined) return value
    if (performance.now() - startedMs > timeoutMs) throw new Error(`expected ${what} within ${timeoutMs} ms; last seen: ${String(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
