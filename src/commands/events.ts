import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {sinceTime} from '../cli/since.js'
import {QmClient} from '../control/qm-client.js'
import {ExitCode} from '../errors.js'
import {colourFor} from '../ui/colour.js'

export default class Events extends QmCommand {
  static override summary = 'Watch state changes and probe answers as they happen, until Ctrl-C.'
  static override description =
    'A live stream from the daemon, as docker events: each state change (time, instance, from → to, pid, why) and each probe answer (status, latency, method). --since first replays the state changes the daemon recorded since then (the last 1000 or so); probe answers are only live. --json prints one JSON object per line. Ends on Ctrl-C, or when the daemon shuts down.'
  static override examples = ['<%= config.bin %> events', '<%= config.bin %> events ocr --since 10m', '<%= config.bin %> events --json']
  static override strict = false
  static override args = {names: Args.string({description: 'services or instances (default: all)'})}
  static override flags = {
    json: Flags.boolean({description: 'one JSON object per line'}),
    since: Flags.string({description: 'replay the recorded state changes since then first: a duration back from now (10m, 2h) or an ISO 8601 time'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Events)
    const manifest = await this.loadManifest(flags.manifest)
    const sinceMs = flags.since === undefined ? undefined : Date.parse(sinceTime(flags.since))
    const {probeEventLine, transitionEventLine} = await import('../ui/event-line.js')
    const colour = colourFor(process.stdout)
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      const watched = await new QmClient(manifest).events({names: argv as string[], ...(sinceMs === undefined ? {} : {sinceMs})}, (event) => {
        if (flags.json) this.out(JSON.stringify(event))
        else if (event.type === 'transition') this.out(transitionEventLine(colour, event))
        else if (event.type === 'probe') this.out(probeEventLine(colour, event))
      }, stop.signal)
      if (!watched) {
        this.diag('no qm daemon runs for this manifest: nothing to watch; qm start starts one')
        this.setExitCode(ExitCode.failed)
      } else if (!stop.signal.aborted) this.diag('the qm daemon has shut down')
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}
