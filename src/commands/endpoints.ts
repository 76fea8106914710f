import {Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {listEndpoints, type EndpointListing} from '../registry/endpoints.js'
import {colourFor} from '../ui/colour.js'
import {renderTable} from '../ui/table.js'

export default class Endpoints extends QmCommand {
  static override summary = 'List the registry: port, name, ACTIVE/INACTIVE, host, and free ports left.'
  static override description = 'With --all-hosts, every host\'s rows of a table shared by several hosts (PostgreSQL, or one SQLite file), and a line per host with its free ports.'
  static override examples = ['<%= config.bin %> endpoints', '<%= config.bin %> endpoints --json', '<%= config.bin %> endpoints --all-hosts']
  static override enableJsonFlag = true
  static override flags = {
    host: Flags.string({description: 'host to list (default: registry.host from the manifest)', exclusive: ['all-hosts']}),
    'all-hosts': Flags.boolean({description: 'list the rows of every host', exclusive: ['host']}),
  }

  async run(): Promise<EndpointListing> {
    const {flags} = await this.parse(Endpoints)
    const manifest = await this.loadManifest(flags.manifest)
    const listing = await listEndpoints(manifest, flags.host, flags['all-hosts'])
    if (!this.jsonEnabled()) {
      const c = colourFor(process.stdout)
      const rows = listing.endpoints.map((e) => [String(e.port), e.name, e.active ? c.green('ACTIVE') : c.dim('INACTIVE'), e.host, e.protocol])
      if (rows.length > 0) this.out(renderTable(['PORT', 'NAME', 'STATUS', 'HOST', 'PROTOCOL'], rows))
      const [first, last] = listing.portRange
      const size = last - first + 1
      if (listing.hosts === undefined) this.out(`${listing.endpoints.length} registered, ${listing.free} of ${size} ports free in ${first}-${last} on ${listing.host}`)
      else if (listing.hosts.length === 0) this.out(`0 registered on any host; ${size} ports free in ${first}-${last} on each`)
      else for (const usage of listing.hosts) this.out(`${usage.registered} registered, ${usage.free} of ${size} ports free in ${first}-${last} on ${usage.host}`)
    }
    return listing
  }
}
