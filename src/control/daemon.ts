// A manifest's daemon: holds the lock, runs the supervisor, answers the control socket.
// The background daemon (`qm start`) and the foreground one (`qm up`) are this same code;
// they differ only in who reads the transitions.
import {rmSync, writeFileSync} from 'node:fs'
import type {Server} from 'node:net'
import {QmError} from '../errors.js'
import {loadManifest} from '../manifest/load.js'
import type {Manifest} from '../manifest/types.js'
import type {Transition} from '../supervisor/states.js'
import {Supervisor} from '../supervisor/supervisor.js'
import {DaemonLock} from './daemon-lock.js'
import {daemonPaths} from './paths.js'
import type {Request} from './protocol.js'
import {serveControl} from './server.js'

export class DaemonBusyError extends QmError {
  constructor(manifestFile: string) {
    super(`a qm daemon already runs for ${manifestFile}`, 1, 'DAEMON_RUNNING', 'use qm start, qm stop and qm status with it, or qm shutdown to end it')
  }
}

export interface DaemonOptions {
  manifest: Manifest
  onTransition?: (transition: Transition) => void
  log: (line: string) => void
}

export class Daemon {
  private server: Server | undefined
  private closing: Promise<void> | undefined
  private readonly closed: Promise<void>
  private markClosed!: () => void
  private mutations: Promise<unknown> = Promise.resolve()

  private constructor(
    private manifest: Manifest,
    private readonly supervisor: Supervisor,
    private readonly lock: DaemonLock,
    private readonly log: (line: string) => void,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve
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
    const daemon = new Daemon(manifest, supervisor, lock, log)
    const {adopted, gone} = await supervisor.adoptRecorded()
    if (adopted.length > 0) log(`adopted ${adopted.length} running service(s) from a previous daemon: ${adopted.join(', ')}`)
    if (gone.length > 0) log(`recorded but no longer running: ${gone.join(', ')}`)
    daemon.server = await serveControl(paths.socket, (request, emit) => daemon.handle(request, emit), (error) => log(`bug: ${(error as Error).stack ?? String(error)}`))
    writeFileSync(paths.pidFile, `${process.pid}\n`)
    log(`daemon ${process.pid} serving ${manifest.file} on ${paths.socket}`)
    return daemon
  }

  get supervisorCore(): Supervisor {
    return this.supervisor
  }

  /** Resolves once the daemon has shut down. */
  whenClosed(): Promise<void> {
    return this.closed
  }

  private async handle(request: Request, emit: (event: unknown) => void): Promise<unknown> {
    const names = request.params?.names ?? []
    switch (request.method) {
      case 'ping':
        return {pid: process.pid, manifest: this.manifest.file}
      case 'status':
        return {daemon: {pid: process.pid}, services: this.supervisor.status(names), registry: this.supervisor.registryBacklog()}
      case 'shutdown':
        void this.close({stopServices: request.params?.stopServices !== false})
        return {pid: process.pid}
      default:
        if (this.closing) throw new QmError('the qm daemon is shutting down', 1, 'DAEMON_CLOSING', 'run the command again once it has stopped')
        return this.mutate(() => this.mutation(request, names, emit))
    }
  }

  // One mutation at a time: a stop issued during a start waits for it, as supervisorctl does.
  private mutate<T>(work: () => Promise<T>): Promise<T> {
    const run = this.mutations.then(work, work)
    this.mutations = run.catch(() => undefined)
    return run
  }

  private async mutation(request: Request, names: string[], emit: (event: unknown) => void): Promise<unknown> {
    const stopListening = this.supervisor.addTransitionListener((transition) => emit({type: 'transition', ...transition}))
    try {
      switch (request.method) {
        case 'start': {
          const reload = await this.reloadManifest(false)
          const results = await this.supervisor.start(names)
          return {reload, results}
        }
        case 'stop':
          return {results: await this.supervisor.stop(names)}
        case 'restart':
          return {results: await this.supervisor.restart(names)}
        case 'reload':
          return {reload: await this.reloadManifest(false)}
        default:
          throw new QmError(`unknown method ${request.method}`, 1, 'BAD_REQUEST')
      }
    } finally {
      stopListening()
    }
  }

  private async reloadManifest(startNew: boolean) {
    this.manifest = await loadManifest({flag: this.manifest.file, env: process.env, cwd: this.manifest.dir})
    return this.supervisor.reload(this.manifest, {startNew})
  }

  close(options: {stopServices: boolean}): Promise<void> {
    this.closing ??= (async () => {
      this.log(options.stopServices ? 'shutting down: stopping every service' : 'shutting down, services left running')
      await this.mutations
      await this.supervisor.close(options)
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
      const paths = daemonPaths(this.manifest.stateDir)
      rmSync(paths.pidFile, {force: true})
      this.lock.release()
      this.log('daemon stopped')
      this.markClosed()
    })()
    return this.closing
  }
}
