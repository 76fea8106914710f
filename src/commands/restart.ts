import {Args} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showRestart} from '../cli/change-commands.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'

export default class Restart extends QmCommand {
  static override summary = 'Restart services one at a time, so the others keep serving.'
  static override examples = ['<%= config.bin %> restart', '<%= config.bin %> restart ocr']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to restart (default: all)'})}

  async run(): Promise<Result<'restart'>> {
    const {argv, flags} = await this.parse(Restart)
    const manifest = await this.loadManifest(flags.manifest)
    const {result, exitCode} = await showRestart((onEvent) => new QmClient(manifest).restart(argv as string[], onEvent), this.changeIo())
    this.setExitCode(exitCode)
    return result
  }
}
