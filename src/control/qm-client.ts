// The typed client the commands use: one method per thing a command asks of its
// manifest's daemon. Start brings a daemon up when none runs; the other changes need one
// only if one runs (with none, nothing is running); status, with no daemon, answers the
// same result from the records.
import {QmError} from '../errors.js'
import type {Manifest} from '../manifest/types.js'
import type {Endpoint} from '../registry/store.js'
import {processStartTime} from '../supervisor/proc.js'
import type {UnwrittenChanges} from '../supervisor/registry-writes.js'
import {waitUntil} from '../supervisor/process-group.js'
import type {ControlClient} from './client.js'
import {connectOrStartDaemon, connectToDaemon} from './connect.js'
import type {ContractEvent, Params, Result, StatusResult} from './contract.js'
import {daemonPaths} from './paths.js'
import {forgetUnwritten, readUnwritten} from './unwritten-changes.js'

export type StartReport = Result<'start'> & {daemonStarted: boolean}

/** The daemon that shut down, and the registry rows it left saying what they said before. */
export type ShutdownReport = Result<'shutdown'> & {unwritten: UnwrittenChanges}

type ChangeMethod = 'stop' | 'restart' | 'reload' | 'rollout'
type OnEvent = (event: ContractEvent) => void

// Long enough for every service's stop_timeout to pass in the worst case.
const SHUTDOWN_WAIT_MS = 120_000

export class QmClient {
  constructor(private readonly manifest: Manifest) {}

  async start(names: string[], onEvent: OnEvent): Promise<StartReport> {
    const {client, started} = await connectOrStartDaemon(this.manifest)
    const reply = await once(client, (c) => c.request('start', {names}, onEvent))
    return {daemonStarted: started, ...reply}
  }

  /** Undefined when no daemon runs. */
  stop(names: string[], onEvent: OnEvent, options: Omit<Params<'stop'>, 'names'> = {}): Promise<Result<'stop'> | undefined> {
    return this.change('stop', {names, ...options}, onEvent)
  }

  /** Undefined when no daemon runs. */
  restart(names: string[], onEvent: OnEvent, options: Omit<Params<'restart'>, 'names'> = {}): Promise<Result<'restart'> | undefined> {
    return this.change('restart', {names, ...options}, onEvent)
  }

  /** Undefined when no daemon runs: with nothing running, there is nothing to roll out. */
  rollout(names: string[], onEvent: OnEvent, options: Omit<Params<'rollout'>, 'names'> = {}): Promise<Result<'rollout'> | undefined> {
    return this.change('rollout', {names, ...options}, onEvent)
  }

  /** Undefined when no daemon runs. */
  reload(onEvent: OnEvent): Promise<Result<'reload'> | undefined> {
    return this.change('reload', {}, onEvent)
  }

  /**
   * State changes and probe answers until `stop` aborts or the daemon shuts down (then it
   * resolves true); false when no daemon runs.
   */
  async events(params: Params<'events'>, onEvent: OnEvent, stop: AbortSignal): Promise<boolean> {
    const client = await connectToDaemon(this.manifest)
    if (!client) return false
    const ended = client.request('events', params, onEvent)
    const onStop = () => client.close()
    stop.addEventListener('abort', onStop, {once: true})
    try {
      await ended
    } catch (error) {
      // Closing the connection is how a watcher stops; the request then fails, as it should.
      if (!stop.aborted) throw error
    } finally {
      stop.removeEventListener('abort', onStop)
      client.close()
    }
    return true
  }

  /** Prometheus's text format; undefined when no daemon runs. */
  async metrics(): Promise<string | undefined> {
    const client = await connectToDaemon(this.manifest)
    return client ? (await once(client, (c) => c.request('metrics', {}))).text : undefined
  }

  async status(names: string[]): Promise<StatusResult> {
    const client = await connectToDaemon(this.manifest)
    if (client) return once(client, (c) => c.request('status', {names}))
    // Only without a daemon: the records' SQLite module costs a start-up of its own.
    const {recordedStatus} = await import('./offline-status.js')
    return recordedStatus(this.manifest, names)
  }

  /**
   * Returns once the daemon process has exited, its services stopped unless told otherwise,
   * with the is_active changes it could not write; undefined when none runs.
   */
  async shutdown(stopServices: boolean, options: {drainMs?: number} = {}): Promise<ShutdownReport | undefined> {
    const client = await connectToDaemon(this.manifest)
    if (!client) return undefined
    const {unwrittenFile} = daemonPaths(this.manifest.stateDir)
    forgetUnwritten(unwrittenFile)
    const reply = await once(client, (c) => c.request('shutdown', {stopServices, ...options}))
    if (!(await waitUntil(() => processStartTime(reply.pid) === undefined, SHUTDOWN_WAIT_MS + (options.drainMs ?? 0), 10))) {
      throw new QmError(
        `the daemon (pid ${reply.pid}) is still running ${SHUTDOWN_WAIT_MS / 1000}s after it was asked to shut down`,
        1,
        'DAEMON_SHUTDOWN',
        `its log ${daemonPaths(this.manifest.stateDir).logFile} says what it is waiting for`,
      )
    }
    return {...reply, unwritten: readUnwritten(unwrittenFile) ?? {changes: [], lastError: null}}
  }

  /** Refuses while the service runs on this host: its row is how the platform finds it. */
  async unregister(name: string, host?: string): Promise<Endpoint> {
    if (host === undefined || host === this.manifest.registry.host) {
      const running = (await this.status([])).services.find((row) => row.name === name && row.pid !== null)
      if (running) {
        throw new QmError(`${name} is running (pid ${running.pid}); its row is how the platform finds it`, 1, 'SERVICE_RUNNING', `qm stop ${name} first`)
      }
    }
    const {unregisterEndpoint} = await import('../registry/endpoints.js')
    return unregisterEndpoint(this.manifest, name, host)
  }

  private async change<M extends ChangeMethod>(method: M, params: Params<M>, onEvent: OnEvent): Promise<Result<M> | undefined> {
    const client = await connectToDaemon(this.manifest)
    if (!client) return undefined
    return once(client, (c) => c.request(method, params, onEvent))
  }
}

async function once<T>(client: ControlClient, work: (client: ControlClient) => Promise<T>): Promise<T> {
  try {
    return await work(client)
  } finally {
    client.close()
  }
}

