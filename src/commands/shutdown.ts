import {Flags} from '@oclif/core'
import {drainFlags, drainOption} from '../cli/drain-flags.js'
import {QmCommand} from '../cli/qm-command.js'
import {QmClient} from '../control/qm-client.js'
import type {UnwrittenChanges} from '../supervisor/registry-writes.js'
import {colourFor} from '../ui/colour.js'

export default class Shutdown extends QmCommand {
  static override summary = 'Stop every service and end the daemon.'
  static override enableJsonFlag = true
  static override flags = {
    'keep-services': Flags.boolean({description: 'end the daemon but leave the services running (the next qm start adopts them)'}),
    ...drainFlags,
  }

  async run(): Promise<{pid: number | null; unwritten: UnwrittenChanges | null}> {
    const {flags} = await this.parse(Shutdown)
    const manifest = await this.loadManifest(flags.manifest)
    const reply = await new QmClient(manifest).shutdown(!flags['keep-services'], drainOption(flags))
    if (!this.jsonEnabled()) {
      this.out(reply ? `daemon ${reply.pid} has shut down` : 'no qm daemon runs for this manifest')
      if (reply && reply.unwritten.changes.length > 0) {
        const {unwrittenRows} = await import('../ui/service-report.js')
        for (const line of unwrittenRows(colourFor(process.stderr), reply.unwritten, manifest.registry.host)) this.diag(line)
      }
    }
    return {pid: reply?.pid ?? null, unwritten: reply?.unwritten ?? null}
  }
}
