import {Args} from '@oclif/core'
import {untilDoneOrInterrupted} from '../cli/interrupt.js'
import {ExitCode} from '../errors.js'
import {QmCommand} from '../cli/qm-command.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {startAccounts, startedLine} from '../ui/service-report.js'
import {plannedProgress} from '../ui/progress.js'

export default class Restart extends QmCommand {
  static override summary = 'Restart services one at a time, so the others keep serving.'
  static override examples = ['<%= config.bin %> restart', '<%= config.bin %> restart ocr']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to restart (default: all)'})}

  async run(): Promise<Result<'restart'>> {
    const {argv, flags} = await this.parse(Restart)
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
      new QmClient(manifest).restart(argv as string[], (event) => {
        if (!json) progress.event(event)
      }),
      progress,
      'restart',
    )
    if (!report) {
      await progress.finish([])
      if (!json) this.diag('no qm daemon runs for this manifest: use qm start')
      this.setExitCode(ExitCode.failed)
      return {results: []}
    }
    await progress.finish(report.results.map((result) => ({...result, ...(result.ok ? {title: startedLine(result)} : {})})))
    const failed = report.results.filter((result) => !result.ok)
    if (!json) {
      const accounts = startAccounts({out: colourFor(process.stdout), err: c}, report.results, progress.live && Boolean(process.stdout.isTTY))
      for (const line of accounts.stdout) this.out(line)
      for (const line of accounts.stderr) this.diag(line)
    }
    if (failed.length > 0) this.setExitCode(ExitCode.failed)
    return report
  }
}
