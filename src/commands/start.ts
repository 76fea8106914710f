import {Args} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {showStart} from '../cli/change-commands.js'
import {QmClient, type StartReport} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {wrapWords} from '../ui/text-width.js'

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
    if (report.daemonStarted) {
      // Once per daemon: this run started it. The check is qm doctor's reserved-ports.
      const {reservedPortsWarning} = await import('../doctor/reserved-ports.js')
      const warning = reservedPortsWarning(manifest.portRange)
      // Wrapped at word boundaries on a terminal, under its first word.
      if (warning) this.diag(wrapWords(`${colourFor(process.stderr).yellow('warning')} ${warning}`, process.stderr.isTTY ? process.stderr.columns : Number.POSITIVE_INFINITY, '        ').join('\n'))
    }
    this.setExitCode(exitCode)
    return report
  }
}
