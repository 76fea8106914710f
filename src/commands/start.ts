import {Args} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showStart, warnUnreservedPorts} from '../cli/change-commands.js'
import {QmClient, type StartReport} from '../control/qm-client.js'

export default class Start extends QmCommand {
  static override summary = 'Start services and wait until each answers its health probe.'
  static override description = `Starts the named services (all when none are named) and what they depend on, in dependency order, through the manifest's daemon, which it starts when none runs. Registers a port for any "port: auto" service first. Applies an edited manifest: services removed from it stop, changed ones restart. Exits 0 when every service is healthy, 1 when one is not, with its last log lines.`
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start ocr pdf_extractor']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to start (default: all)'})}

  async run(): Promise<StartReport> {
    const {argv, flags} = await this.parse(Start)
    const manifest = await this.loadManifest(flags.manifest)
    const {result: report, exitCode} = await showStart((onEvent) => new QmClient(manifest).start(argv as string[], onEvent), this.changeIo())
    await warnUnreservedPorts(report, manifest.portRange, this.changeIo())
    this.setExitCode(exitCode)
    return report
  }
}
