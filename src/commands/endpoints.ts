import {Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {listEndpoints, type EndpointListing} from '../registry/endpoints.js'
import {colourFor} from '../ui/colour.js'
import {renderTable} from '../ui/table.js'

export default class Endpoints extends QmCommand {
  static override summary = 'List the registry: port, name, ACTIVE/INACTIVE, host, and free ports left.'
  static override examples = ['<%= config.bin %> endpoints', '<%= config.bin %> endpoints --json']
  static override enableJsonFlag = true
  static override flags = {
    host: Flags.string({description: 'host to list (default: registry.host from the manifest)'}),
  }

  async run(): Promise<EndpointListing> {
    const {flags} = await this.parse(Endpoints)
    const manifest = await this.loadManifest(flags.manifest)
    const listing = await listEndpoints(manifest, flags.host)
    if (!this.jsonEnabled()) {
      const c = colourFor(process.stdout)
      const rows = listing.endpoints.map((e) => [String(e.port), e.name, e.active ? c.green('ACTIVE') : c.dim('INACTIVE'), e.host, e.protocol])
      if (rows.length > 0) this.out(renderTable(['PORT', 'NAME', 'STATUS', 'HOST', 'PROTOCOL'], rows))
      const [first, last] = listing.portRange
      this.out(`${listing.endpoints.length} registered, ${listing.free} of ${last - first + 1} ports free in ${first}-${last} on ${listing.host}`)
    }
    return listing
  }
}
