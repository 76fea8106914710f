import {Args} from '@oclif/core'
import {untilDoneOrInterrupted} from '../cli/interrupt.js'
import {QmCommand} from '../cli/qm-command.js'
import type {Result} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {plannedProgress} from '../ui/progress.js'

export default class Stop extends QmCommand {
  static override summary = 'Stop services: SIGTERM to each process group, SIGKILL after stop_timeout.'
  static override description = 'Stops the named services (all when none are named) and, first, the services that depend on them. Returns once every process of each is gone and its port is closed. The daemon keeps running; qm shutdown ends it.'
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop ocr']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to stop (default: all)'})}

  async run(): Promise<Result<'stop'>> {
    const {argv, flags} = await this.parse(Stop)
    const manifest = await this.loadManifest(flags.manifest)
    const c = colourFor(process.stderr)
    const json = this.jsonEnabled()
    const progress = plannedProgress({
      doneWhen: 'stopped',
      colour: c,
      interactive: Boolean(process.stderr.isTTY) && !json,
      write: (line) => this.diag(line),
    })
    const report = await untilDoneOrInterrupted(
      new QmClient(manifest).stop(argv as string[], (event) => {
        if (!json) progress.event(event)
      }),
      progress,
      'stop',
    )
    await progress.finish((report?.results ?? []).map((result) => ({name: result.name, ok: result.state === 'stopped', title: `${result.name} ${result.state}`})))
    if (!report) {
      if (!json) this.diag('no qm daemon runs for this manifest: nothing to stop')
      return {results: []}
    }
    // On a terminal the live lines ended in the same words: one account per service.
    if (!json && !(progress.live && process.stdout.isTTY)) for (const result of report.results) this.out(`${result.name} ${result.state}`)
    return report
  }
}
