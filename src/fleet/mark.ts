// `qm endpoints --check --mark-inactive`: the stale rows of a check marked inactive, so the
// platform stops sending Calls to a host that is gone. Each row is marked only if it is still
// active with the id, name, host and port it was probed with: a host that came back and
// registered again, or an operator who moved the row, wins over a sighting made seconds ago.
import type {Manifest} from '../manifest/types.js'
import {withEndpointStore} from '../registry/open.js'
import type {Endpoint} from '../registry/store.js'
import type {FleetCheck} from './check.js'

export interface LeftAlone {
  /** The row as it was probed. */
  endpoint: Endpoint
  /** What it is now, in words: why it was not marked. */
  reason: string
}

export interface MarkOutcome {
  marked: Endpoint[]
  leftAlone: LeftAlone[]
}

export async function markStale(manifest: Manifest, check: FleetCheck): Promise<MarkOutcome> {
  const stale = check.rows.filter((row) => row.verdict === 'stale').map((row) => row.endpoint)
  const outcome: MarkOutcome = {marked: [], leftAlone: []}
  if (stale.length === 0) return outcome
  await withEndpointStore(manifest.registry, async (store) => {
    // One at a time: a few rows per dead host, and each is its own conditional statement.
    for (const endpoint of stale) {
      if (await store.deactivateIfUnchanged(endpoint)) {
        outcome.marked.push({...endpoint, active: false})
        continue
      }
      const now = await store.find(endpoint.name, endpoint.host)
      outcome.leftAlone.push({endpoint, reason: changeSince(endpoint, now)})
    }
  })
  return outcome
}

function changeSince(seen: Endpoint, now: Endpoint | undefined): string {
  if (now === undefined) return 'the row is gone'
  if (now.id !== seen.id) return `the row was registered again (port ${now.port})`
  if (now.port !== seen.port) return `the row moved to port ${now.port}`
  if (!now.active) return 'the row is inactive already'
  return 'the row changed'
}
