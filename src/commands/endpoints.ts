import {Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showEndpoints} from '../cli/read-commands.js'
import type {EndpointListing} from '../registry/endpoints.js'

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
    const {result} = await showEndpoints(manifest, {...(flags.host === undefined ? {} : {host: flags.host}), allHosts: flags['all-hosts']}, this.io())
    return result
  }
}
