// The manifest's hooks: a command run when a service goes fatal, unhealthy, is restarted
// by qm, or recovers. Each runs as argv (never through a shell) with the event in QM_*
// variables and as JSON on stdin, in a process group of its own that is killed after the
// hook's timeout. Nothing waits for a hook: a slow or failing one is logged and never
// holds up a restart.
import {spawn} from 'node:child_process'
import type {HookSettings} from '../manifest/types.js'
import type {ServiceState, Transition} from './states.js'
import {utcTimestamp} from '../utc-time.js'

export type HookName = 'on_fatal' | 'on_unhealthy' | 'on_restart' | 'on_recovered'

export interface HookEvent {
  event: HookName
  service: string
  instance: string
  from: ServiceState
  state: ServiceState
  reason: string
  pid: number | null
  port: number | null
  at: string
}

const STDERR_KEPT = 2000

/** The hook a state change calls for, if any. */
export function hookFor(t: Transition, restarting: boolean): HookName | undefined {
  if (t.to === 'fatal') return 'on_fatal'
  if (t.from === 'running' && t.to === 'unhealthy') return 'on_unhealthy'
  // exited, backoff and stopping lead to starting only when qm restarts it by itself; an
  // operator's start or restart comes from stopped.
  if (t.to === 'starting' && (t.from === 'exited' || t.from === 'backoff' || t.from === 'stopping')) return 'on_restart'
  if (t.to === 'running' && (t.from === 'unhealthy' || restarting)) return 'on_recovered'
  return undefined
}

export class Hooks {
  /** Instances qm is restarting by itself: their next running is a recovery. */
  private readonly restarting = new Set<string>()

  constructor(
    private readonly settingsOf: (instance: string) => HookSettings | undefined,
    private readonly portOf: (instance: string) => number | undefined,
    private readonly warn: (message: string) => void,
  ) {}

  onTransition(t: Transition): void {
    const hook = hookFor(t, this.restarting.has(t.name))
    if (hook === 'on_restart') this.restarting.add(t.name)
    if (t.to === 'running' || t.to === 'stopped' || t.to === 'fatal') this.restarting.delete(t.name)
    if (!hook) return
    const settings = this.settingsOf(t.name)
    const argv = settings && {on_fatal: settings.onFatal, on_unhealthy: settings.onUnhealthy, on_restart: settings.onRestart, on_recovered: settings.onRecovered}[hook]
    if (!settings || !argv) return
    const port = this.portOf(t.name)
    const event: HookEvent = {event: hook, service: t.service ?? t.name, instance: t.name, from: t.from, state: t.to, reason: t.cause, pid: t.pid ?? null, port: port ?? null, at: utcTimestamp(t.atMs)}
    this.run(argv, event, settings.timeoutMs)
  }

  private run(argv: readonly string[], event: HookEvent, timeoutMs: number): void {
    const what = `hook ${event.event} of ${event.instance} (${argv[0]})`
    const env = {
      ...process.env,
      QM_EVENT: event.event,
      QM_SERVICE: event.service,
      QM_INSTANCE: event.instance,
      QM_STATE: event.state,
      QM_FROM: event.from,
      QM_REASON: event.reason,
      QM_PID: event.pid === null ? '' : String(event.pid),
      QM_PORT: event.port === null ? '' : String(event.port),
    }
    const child = spawn(argv[0]!, argv.slice(1), {env, detached: true, stdio: ['pipe', 'ignore', 'pipe']})
    let stderr = ''
    let timedOut = false
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)))
    // A hook that does not read its stdin closes the pipe: nothing to report.
    child.stdin!.on('error', () => undefined)
    child.stdin!.end(`${JSON.stringify(event)}\n`)
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    }, timeoutMs)
    timer.unref()
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      this.warn(`${what}: cannot run it: ${error.code === 'ENOENT' ? `${argv[0]} does not exist or is not on PATH` : error.message}`)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const lastLine = stderr.trim().split('\n').at(-1) ?? ''
      if (timedOut) this.warn(`${what}: still running after ${timeoutMs} ms, killed`)
      else if (code !== 0) this.warn(`${what}: ${signal ? `killed by ${signal}` : `exited with code ${code}`}${lastLine ? `: ${lastLine}` : ''}`)
    })
    child.unref()
  }
}
