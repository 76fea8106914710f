// The registry reachable and its ServiceEndpoint table with the columns qm needs, opened
// the way every command opens it; its rows of this host go on to the registry-ports check.
import {existsSync} from 'node:fs'
import {QmError} from '../errors.js'
import type {RegistrySettings} from '../manifest/types.js'
import {describeRegistry, withEndpointStore} from '../registry/open.js'
import type {Endpoint} from '../registry/store.js'
import {check, displayPath, type DoctorCheck} from './report.js'

export interface RegistryFacts {
  /** The rows of the manifest's registry host; undefined when the registry could not be read. */
  rows?: Endpoint[]
  check: DoctorCheck
}

export async function checkRegistry(settings: RegistrySettings, manifestDir: string): Promise<RegistryFacts> {
  const database = settings.kind === 'sqlite' ? displayPath(manifestDir, settings.path) : describeRegistry(settings)
  const where = `table ${settings.table} in ${database}`
  // Opening creates a missing SQLite file and its table; a doctor only looks.
  if (settings.kind === 'sqlite' && !existsSync(settings.path)) {
    return {rows: [], check: check('registry', 'OK', `${database} does not exist yet: qm creates it, with table ${settings.table}, at the first start or register`)}
  }
  try {
    return await withEndpointStore(settings, async (store) => {
      const all = await store.list()
      const rows = all.filter((row) => row.host === settings.host)
      const insert = await store.checkInsert(settings.host).then(
        () => undefined,
        (error: unknown) => error,
      )
      if (insert instanceof QmError) {
        return {rows, check: check('registry', 'FAIL', `qm cannot insert a row into ${where} (tried in a transaction it rolled back): ${insert.message}`, insert.hint ?? 'check registry: in the manifest')}
      }
      if (insert !== undefined) throw insert
      return {
        rows,
        check: check('registry', 'OK', `${where} has the ServiceEndpoint columns; ${all.length} row${all.length === 1 ? '' : 's'}, ${rows.length} for host ${settings.host}`),
      }
    })
  } catch (error) {
    if (error instanceof QmError) return {check: check('registry', 'FAIL', error.message, error.hint ?? 'check registry: in the manifest')}
    // SQLite reports a damaged or foreign file only at the first query, as its own error.
    return {check: check('registry', 'FAIL', `cannot read ${where}: ${(error as Error).message}`, 'point registry: in the manifest at the ServiceEndpoint database')}
  }
}
