// A manifest's daemon: holds the lock, runs the supervisor, answers the control socket.
// The background daemon (`qm start`) and the foreground one (`qm up`) are this same code;
// they differ only in who reads the transitions.
import {rmSync, writeFileSync} from 'node:fs'
import type {Server} from 'node:net'
import {certificateExpiries, expiringCertificates} from '../certs/expiry.js'
import {QmError} from '../errors.js'
import {manifestStamp} from '../manifest/cache.js'
import {loadManifest} from '../manifest/load.js'
import type {Manifest} from '../manifest/types.js'
import type {Plan, Transition} from '../supervisor/states.js'
import {Supervisor} from '../supervisor/supervisor.js'
import {DaemonLock} from './daemon-lock.js'
import {daemonPaths} from '../control/paths.js'
import {recordUnwritten} from '../control/unwritten-changes.js'
import type {ContractEvent, Method, MethodTable, Params, Result} from '../control/contract.js'
import type {Request} from '../control/protocol.js'
import {serveControl} from '../control/server.js'
import {DaemonMetrics} from './metrics.js'
import {HeapSettler} from './settle-heap.js'

export class DaemonBusyError extends QmError {
  constructor(manifestFile: string) {
    super(`a qm daemon already runs for ${manifestFile}`, 1, 'DAEMON_RUNNING', 'use qm start, qm stop and qm status with it, or qm shutdown to end it')
  }
}

export interface DaemonOptions {
  manifest: Manifest
  /** The manifest file's identity when it was read (manifest/cache.ts), if known. */
  readStamp?: string
  onTransition?: (transition: Transition) => void
  log: (line: string) => void
}

export class Daemon {
  private server: Server | undefined
  private closing: Promise<void> | undefined
  /** Aborts when the daemon begins to shut down: the requests that stream until their client goes (qm events) end then. */
  private readonly ending = new AbortController()
  private readonly closed: Promise<void>
  private markClosed!: () => void
  private mutations: Promise<unknown> = Promise.resolve()
  private readonly metrics: DaemonMetrics
  private readonly heap = new HeapSettler()

  private constructor(
    private manifest: Manifest,
    private readonly supervisor: Supervisor,
    private readonly lock: DaemonLock,
    private readonly log: (line: string) => void,
    /** The manifest file's identity when it was last read. */
    private readStamp: string | undefined,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve
    })
    this.metrics = new DaemonMetrics({
      instances: () => this.supervisor.metrics(),
      certificates: () => certificateExpiries(this.manifest.services.map((service) => service.certs)),
      pendingRegistryWrites: () => this.supervisor.registryBacklog().pendingWrites,
    })
  }

  /** Throws DaemonBusyError when another daemon holds this manifest's lock. */
  static async open(options: DaemonOptions): Promise<Daemon> {
    const {manifest, log} = options
    const paths = daemonPaths(manifest.stateDir)
    const lock = DaemonLock.tryAcquire(paths.lockFile)
    if (!lock) throw new DaemonBusyError(manifest.file)
    let supervisor: Supervisor
    try {
      supervisor = await Supervisor.open(manifest, {
        onTransition: (t) => {
          log(`${t.name}: ${t.from} → ${t.to}: ${t.cause}`)
          options.onTransition?.(t)
        },
        warn: log,
      })
    } catch (error) {
      lock.release()
      throw error
    }
    const daemon = new Daemon(manifest, supervisor, lock, log, options.readStamp)
    const {adopted, gone} = await supervisor.adoptRecorded()
    if (adopted.length > 0) log(`adopted ${adopted.length} running service(s) from a previous daemon: ${adopted.join(', ')}`)
    if (gone.length > 0) log(`recorded but no longer running: ${gone.join(', ')}`)
    daemon.server = await serveControl(paths.socket, (request, emit, gone) => daemon.handle(request, emit, gone), (error) => log(`bug: ${(error as Error).stack ?? String(error)}`))
    writeFileSync(paths.pidFile, `${process.pid}\n`)
    log(`daemon ${process.pid} serving ${manifest.file} on ${paths.socket}`)
    if (manifest.metrics) {
      const {host, port} = manifest.metrics.listen
      // After the socket, and not waited for: loading the metrics library must not hold up
      // the first qm start. A taken address is logged, and the daemon goes on.
      void daemon.metrics.listen(manifest.metrics.listen).then(
        () => log(`metrics on http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`),
        (error: unknown) => log(`metrics: cannot listen on ${host}:${port}: ${(error as Error).message}; qm metrics still answers`),
      )
    }
    return daemon
  }

  /** Resolves once the daemon has shut down. */
  whenClosed(): Promise<void> {
    return this.closed
  }

  /** The contract (src/control/contract.ts), served: one handler per method. */
  private readonly methods: MethodTable = {
    ping: async () => ({pid: process.pid, manifest: this.manifest.file}),
    status: async ({names = []}) => ({
      daemon: {pid: process.pid},
      services: this.supervisor.status(names),
      registry: this.supervisor.registryBacklog(),
      certificates: expiringCertificates(this.manifest.services.map((service) => service.certs)),
    }),
    shutdown: async ({stopServices, drainMs}) => {
      void this.close({stopServices: stopServices !== false, ...(drainMs === undefined ? {} : {drainMs})})
      return {pid: process.pid}
    },
    start: (params, emit) =>
      this.mutation(emit, async () => {
        const reload = await this.reloadManifest(false)
        const results = await this.supervisor.start(params.names ?? [], planEvent(emit))
        return {reload, results, registry: this.supervisor.registryBacklog()}
      }),
    stop: (params, emit) =>
      this.mutation(emit, async () => {
        const results = await this.supervisor.stop(params.names ?? [], planEvent(emit), drainOf(params))
        return {results, registry: this.supervisor.registryBacklog()}
      }),
    restart: (params, emit) =>
      this.mutation(emit, async () => {
        const results = await this.supervisor.restart(params.names ?? [], planEvent(emit), {...drainOf(params), rollout: params.rollout === true})
        return {results, registry: this.supervisor.registryBacklog()}
      }),
    rollout: ({names = [], ...options}, emit) =>
      this.mutation(emit, async () => {
        // The edited manifest is what rolls out: changed services keep running until their turn.
        const reload = await this.reloadManifest(false, true)
        const results = await this.supervisor.rollout(names, options, planEvent(emit), (phase) => emit({type: 'step', ...phase}))
        return {reload, results}
      }),
    reload: (_params, emit) => this.mutation(emit, async () => ({reload: await this.reloadManifest(false)})),
    metrics: async () => ({text: (await this.metrics.text()).body}),
    // Not a mutation: it watches, alongside whatever else runs, until the client goes.
    events: async ({names = [], sinceMs}, emit, gone) => {
      const wanted = new Set(this.supervisor.status(names).map((row) => row.name))
      if (sinceMs !== undefined) for (const transition of this.supervisor.transitionsSince(sinceMs, names)) emit({type: 'transition', ...transition})
      const stopTransitions = this.supervisor.addTransitionListener((transition) => {
        if (wanted.has(transition.name)) emit({type: 'transition', ...transition})
      })
      const stopProbes = this.supervisor.addProbeListener((probe) => {
        if (wanted.has(probe.name)) emit({type: 'probe', ...probe})
      })
      const over = AbortSignal.any([gone, this.ending.signal])
      await new Promise<void>((resolve) => (over.aborted ? resolve() : over.addEventListener('abort', () => resolve(), {once: true})))
      stopTransitions()
      stopProbes()
      return {}
    },
  }

  /** The contract in-process, as `qm up` uses it: the same table the socket serves. */
  call<M extends Method>(method: M, params: Params<M>, onEvent: (event: ContractEvent) => void = () => undefined): Promise<Result<M>> {
    return (this.methods[method] as (params: Params<M>, emit: (event: ContractEvent) => void, gone: AbortSignal) => Promise<Result<M>>)(params, onEvent, this.ending.signal)
  }

  private handle(request: Request, emit: (event: ContractEvent) => void, gone: AbortSignal): Promise<unknown> {
    const handler = this.methods[request.method] as (params: Request['params'], emit: (event: ContractEvent) => void, gone: AbortSignal) => Promise<unknown>
    if (!handler) throw new QmError(`unknown method ${request.method}`, 1, 'BAD_REQUEST')
    return handler(request.params ?? {}, emit, gone)
  }

  /**
   * A change to the services, one at a time (a stop issued during a start waits for it, as
   * supervisorctl does), with the state changes it causes streamed as events.
   */
  private mutation<T>(emit: (event: ContractEvent) => void, work: () => Promise<T>): Promise<T> {
    if (this.closing) throw new QmError('the qm daemon is shutting down', 1, 'DAEMON_CLOSING', 'run the command again once it has stopped')
    const run = this.mutations.then(async () => {
      const stopListening = this.supervisor.addTransitionListener((transition) => emit({type: 'transition', ...transition}))
      try {
        return await work()
      } finally {
        stopListening()
        this.heap.changed()
      }
    })
    this.mutations = run.catch(() => undefined)
    return run
  }

  /** The file read again, unless it is the very file read last (the first start after the daemon's own start reads it once). */
  private async reloadManifest(startNew: boolean, keepChanged = false) {
    const stamp = manifestStamp(this.manifest.file)
    if (stamp === undefined || stamp !== this.readStamp) {
      this.manifest = await loadManifest({flag: this.manifest.file, env: process.env, cwd: this.manifest.dir})
      this.readStamp = stamp
    }
    return this.supervisor.reload(this.manifest, {startNew, keepChanged})
  }

  close(options: {stopServices: boolean; drainMs?: number}): Promise<void> {
    this.closing ??= (async () => {
      this.log(options.stopServices ? 'shutting down: stopping every service' : 'shutting down, services left running')
      await this.mutations
      const unwritten = await this.supervisor.close(options)
      // After the services' last state changes, so that qm events shows them.
      this.ending.abort()
      this.heap.close()
      await this.metrics.close()
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
      const paths = daemonPaths(this.manifest.stateDir)
      recordUnwritten(paths.unwrittenFile, unwritten)
      rmSync(paths.pidFile, {force: true})
      this.lock.release()
      this.log('daemon stopped')
      this.markClosed()
    })()
    return this.closing
  }
}

function planEvent(emit: (event: ContractEvent) => void): (plan: Plan) => void {
  return (plan) => emit({type: 'plan', ...plan})
}

function drainOf(params: {drainMs?: number}): {drainMs?: number} {
  return params.drainMs === undefined ? {} : {drainMs: params.drainMs}
}
