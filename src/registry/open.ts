// Opens the store the manifest names: SQLite at registry.path, or PostgreSQL at
// registry.url (or QM_REGISTRY_URL). The switch lives here so nothing else learns which
// database it talks to; each store's module, and the pg driver, load only when named.
import type {RegistrySettings} from '../manifest/types.js'
import type {EndpointStore} from './store.js'

export async function openEndpointStore(settings: RegistrySettings): Promise<EndpointStore> {
  if (settings.kind === 'postgres') {
    const {PostgresEndpointStore} = await import('./postgres-store.js')
    return PostgresEndpointStore.open(settings)
  }
  const {SqliteEndpointStore} = await import('./sqlite-store.js')
  return SqliteEndpointStore.open(settings.path, settings.table)
}

/**
 * For the daemon: a registry out of reach at its start is opened later, by the first call
 * after it answers again (deferred-store.ts); any other refusal is thrown as before.
 */
export async function openEndpointStoreOrLater(settings: RegistrySettings, warn: (message: string) => void): Promise<EndpointStore> {
  try {
    return await openEndpointStore(settings)
  } catch (error) {
    const {DeferredEndpointStore, isOutage} = await import('./deferred-store.js')
    if (!isOutage(error)) throw error
    warn(`registry: ${(error as Error).message}; starting all the same: a service whose port is known starts on it, a new one waits for the registry, and is_active changes are written once it answers`)
    return new DeferredEndpointStore(() => openEndpointStore(settings), error)
  }
}

export async function withEndpointStore<T>(settings: RegistrySettings, work: (store: EndpointStore) => Promise<T>): Promise<T> {
  const store = await openEndpointStore(settings)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

/** Where the registry is, for messages and `qm validate`: never a password. */
export function describeRegistry(settings: RegistrySettings): string {
  return settings.kind === 'postgres' ? settings.url.redacted : settings.path
}
