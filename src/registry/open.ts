// Opens the store the manifest names. Only SQLite exists today; the switch lives
// here so nothing else learns which database it talks to.
import type {RegistrySettings} from '../manifest/types.js'
import {SqliteEndpointStore} from './sqlite-store.js'
import type {EndpointStore} from './store.js'

export function openEndpointStore(settings: RegistrySettings): EndpointStore {
  return SqliteEndpointStore.open(settings.path, settings.table)
}

export async function withEndpointStore<T>(settings: RegistrySettings, work: (store: EndpointStore) => Promise<T>): Promise<T> {
  const store = openEndpointStore(settings)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}
