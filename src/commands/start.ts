import {Args} from '@oclif/core'
import {untilDoneOrInterrupted} from '../cli/interrupt.js'
import {ExitCode} from '../errors.js'
import {QmCommand} from '../cli/qm-command.js'
import {QmClient, type StartReport} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {startAccounts, startedLine} from '../ui/service-report.js'
import {wrapWords} from '../ui/text-width.js'
import {plannedProgress} from '../ui/progress.js'

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
    const c = colourFor(process.stderr)
    const json = this.jsonEnabled()
    const progress = plannedProgress({
      doneWhen: 'running',
      colour: c,
      interactive: Boolean(process.stderr.isTTY) && !json,
      write: (line) => this.diag(line),
    })
    const report = await untilDoneOrInterrupted(
      new QmClient(manifest).start(argv as string[], (event) => {
        if (!json) progress.event(event)
      }),
      progress,
      'start',
    )
    await progress.finish(report.results.map((result) => ({...result, ...(result.ok ? {title: startedLine(result)} : {})})))
    const failed = report.results.filter((result) => !result.ok)
    if (!json) {
      const accounts = startAccounts({out: colourFor(process.stdout), err: c}, report.results, progress.live && Boolean(process.stdout.isTTY))
      for (const line of accounts.stdout) this.out(line)
      for (const line of accounts.stderr) this.diag(line)
    }
    if (report.daemonStarted) {
      // Once per daemon: this run started it. The check is qm doctor's reserved-ports.
      const {reservedPortsWarning} = await import('../doctor/reserved-ports.js')
      const warning = reservedPortsWarning(manifest.portRange)
      // Wrapped at word boundaries on a terminal, under its first word.
      if (warning) this.diag(wrapWords(`${c.yellow('warning')} ${warning}`, process.stderr.isTTY ? process.stderr.columns : Number.POSITIVE_INFINITY, '        ').join('\n'))
    }
    if (failed.length > 0) this.setExitCode(ExitCode.failed)
    return report
  }
}
