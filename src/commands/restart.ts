import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showRestart} from '../cli/change-commands.js'
import {drainFlags, drainOption} from '../cli/drain-flags.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'

export default class Restart extends QmCommand {
  static override summary = 'Restart services one at a time, so the others keep serving.'
  static override description = "Each instance in turn: its row goes inactive, it drains (drain_delay, or --drain), stops, and starts again on the same port. With --rollout, a service with port: auto is rolled out instead (qm rollout): a new process on a spare port, gated, the row moved to it, then the old one drained and stopped, so no Call is lost."
  static override examples = ['<%= config.bin %> restart', '<%= config.bin %> restart ocr', '<%= config.bin %> restart --rollout', '<%= config.bin %> restart ocr --drain 5s']
  static override flags = {
    ...drainFlags,
    rollout: Flags.boolean({description: 'roll out each service with port: auto (a new process before the old one goes) instead of stopping and starting it'}),
  }
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to restart (default: all)'})}

  async run(): Promise<Result<'restart'>> {
    const {argv, flags} = await this.parse(Restart)
    const manifest = await this.loadManifest(flags.manifest)
    const {result, exitCode} = await showRestart((onEvent) => new QmClient(manifest).restart(argv as string[], onEvent, {...drainOption(flags), ...(flags.rollout ? {rollout: true} : {})}), this.changeIo())
    this.setExitCode(exitCode)
    return result
  }
}
