import {QmCommand} from '../cli/qm-command.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {transitionLine} from '../ui/transition-line.js'

export default class Reload extends QmCommand {
  static override summary = 'Apply an edited manifest to the running daemon; starts nothing that is stopped.'
  static override description = 'Services removed from the manifest stop (and lose the registry row qm gave them); services whose command, arguments, environment, certificates or port changed restart; the rest keep running with the same pid.'
  static override enableJsonFlag = true

  async run(): Promise<Result<'reload'>> {
    const {flags} = await this.parse(Reload)
    const manifest = await this.loadManifest(flags.manifest)
    const c = colourFor(process.stderr)
    const json = this.jsonEnabled()
    const reply = await new QmClient(manifest).reload((event) => {
      if (!json && event.type === 'transition') this.diag(transitionLine(c, event))
    })
    if (!reply) {
      if (!json) this.diag('no qm daemon runs for this manifest: nothing to reload (qm start reads the manifest)')
      return {reload: {added: [], removed: [], restarted: [], unchanged: []}}
    }
    if (!json) {
      const {added, removed, restarted, unchanged} = reply.reload
      this.out(`added: ${added.join(', ') || '-'}; removed: ${removed.join(', ') || '-'}; restarted: ${restarted.join(', ') || '-'}; unchanged: ${unchanged.length}`)
    }
    return reply
  }
}
