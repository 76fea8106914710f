import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {registerEndpoint} from '../registry/endpoints.js'
import type {RegisterOutcome} from '../registry/store.js'

export default class Register extends QmCommand {
  static override summary = 'Give a service a port in the registry and print it.'
  static override description = `Writes a ServiceEndpoint row (name, host, port, protocol grpc, is_active) and prints the port. Without --port the port is the lowest one in port_range that no row of the host holds and nothing on this host listens on. Registering a name that exists prints its port and changes nothing, except that --active or --inactive sets its is_active (what an exported systemd unit does when its service becomes healthy and after it stops).`
  static override examples = ['<%= config.bin %> register pdf_extractor', '<%= config.bin %> register ocr --port 50060', '<%= config.bin %> register ocr --host worker-2 --inactive']
  static override enableJsonFlag = true
  static override args = {name: Args.string({description: 'service name (lowercase, underscore-separated)', required: true})}
  static override flags = {
    port: Flags.integer({char: 'p', description: 'a fixed port instead of the lowest free one'}),
    host: Flags.string({description: 'host column (default: registry.host from the manifest, else localhost)'}),
    active: Flags.boolean({description: 'set is_active true, on an existing row too', exclusive: ['inactive']}),
    inactive: Flags.boolean({description: 'write the row with is_active false, or set an existing row\'s to false', exclusive: ['active']}),
  }

  async run(): Promise<RegisterOutcome> {
    const {args, flags} = await this.parse(Register)
    const manifest = await this.loadManifest(flags.manifest)
    const outcome = await registerEndpoint(manifest, {
      name: args.name,
      ...(flags.port === undefined ? {} : {port: flags.port}),
      ...(flags.host === undefined ? {} : {host: flags.host}),
      ...(flags.active || flags.inactive ? {active: !flags.inactive} : {}),
    })
    if (!this.jsonEnabled()) {
      this.out(String(outcome.endpoint.port))
      if (!outcome.created) this.diag(`${args.name} was already registered on port ${outcome.endpoint.port}`)
    }
    return outcome
  }
}
