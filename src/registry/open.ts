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
