import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {QmClient} from '../control/qm-client.js'
import type {Endpoint} from '../registry/store.js'

export default class Unregister extends QmCommand {
  static override summary = 'Remove a service\'s row from the registry; refused while the service runs.'
  static override examples = ['<%= config.bin %> unregister pdf_extractor']
  static override enableJsonFlag = true
  static override args = {name: Args.string({description: 'service name', required: true})}
  static override flags = {
    host: Flags.string({description: 'host column (default: registry.host from the manifest)'}),
  }

  async run(): Promise<Endpoint> {
    const {args, flags} = await this.parse(Unregister)
    const manifest = await this.loadManifest(flags.manifest)
    const endpoint = await new QmClient(manifest).unregister(args.name, flags.host)
    if (!this.jsonEnabled()) this.out(`unregistered ${endpoint.name} (port ${endpoint.port}, host ${endpoint.host})`)
    return endpoint
  }
}
