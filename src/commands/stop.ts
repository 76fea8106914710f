import {Args} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showStop} from '../cli/change-commands.js'
import {drainFlags, drainOption} from '../cli/drain-flags.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'

export default class Stop extends QmCommand {
  static override summary = 'Stop services: row inactive, drain, SIGTERM to each process group, SIGKILL after stop_timeout.'
  static override description = "Stops the named services (all when none are named) and, first, the services that depend on them. Each serving process's registry row goes inactive first, so new lookups stop finding it; then it drains (drain_delay, or --drain; ending early once no client connection is left) before SIGTERM. Returns once every process of each is gone and its port is closed. The daemon keeps running; qm shutdown ends it."
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop ocr', '<%= config.bin %> stop --drain 5s', '<%= config.bin %> stop --now']
  static override flags = drainFlags
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to stop (default: all)'})}

  async run(): Promise<Result<'stop'>> {
    const {argv, flags} = await this.parse(Stop)
    const manifest = await this.loadManifest(flags.manifest)
    const {result, exitCode} = await showStop((onEvent) => new QmClient(manifest).stop(argv as string[], onEvent, drainOption(flags)), this.changeIo())
    this.setExitCode(exitCode)
    return result
  }
}
