// A registry that is out of reach when the daemon starts (the platform's database down as
// a host boots). The daemon starts all the same: every call fails as the outage it is, so
// a service whose port the daemon knows from its records starts on it, one that needs a
// new port is refused, and the is_active writes wait in their queue. Each call after
// RETRY_MS tries to open the real store again; from the first success on, calls go to it.
import {QmError} from '../errors.js'
import type {Endpoint, EndpointStore, MoveRequest, RegisterOutcome, RegisterRequest, SeenRow} from './store.js'

const RETRY_MS = 1000

export function isOutage(error: unknown): boolean {
  return error instanceof QmError && (error.code === 'REGISTRY_UNREACHABLE' || error.code === 'REGISTRY_BUSY')
}

export class DeferredEndpointStore implements EndpointStore {
  private store: EndpointStore | undefined
  private opening: Promise<EndpointStore> | undefined
  private lastAttemptMs = performance.now()

  constructor(
    private readonly open: () => Promise<EndpointStore>,
    private lastError: unknown,
  ) {}

  list(host?: string): Promise<Endpoint[]> {
    return this.current().then((store) => store.list(host))
  }

  find(name: string, host: string): Promise<Endpoint | undefined> {
    return this.current().then((store) => store.find(name, host))
  }

  register(request: RegisterRequest): Promise<RegisterOutcome> {
    return this.current().then((store) => store.register(request))
  }

  unregister(name: string, host: string): Promise<Endpoint> {
    return this.current().then((store) => store.unregister(name, host))
  }

  setActive(name: string, host: string, active: boolean): Promise<void> {
    return this.current().then((store) => store.setActive(name, host, active))
  }

  setActiveMany(host: string, changes: ReadonlyMap<string, boolean>): Promise<string[]> {
    return this.current().then((store) => store.setActiveMany(host, changes))
  }

  move(request: MoveRequest): Promise<Endpoint> {
    return this.current().then((store) => store.move(request))
  }

  deactivateIfUnchanged(seen: SeenRow): Promise<boolean> {
    return this.current().then((store) => store.deactivateIfUnchanged(seen))
  }

  checkInsert(host: string): Promise<void> {
    return this.current().then((store) => store.checkInsert(host))
  }

  async close(): Promise<void> {
    const store = this.store ?? (await this.opening?.catch(() => undefined))
    await store?.close()
  }

  private async current(): Promise<EndpointStore> {
    if (this.store) return this.store
    if (!this.opening) {
      if (performance.now() - this.lastAttemptMs < RETRY_MS) throw this.lastError
      this.lastAttemptMs = performance.now()
      this.opening = this.open().finally(() => {
        this.opening = undefined
      })
    }
    try {
      this.store = await this.opening
      return this.store
    } catch (error) {
      this.lastError = error
      throw error
    }
  }
}
