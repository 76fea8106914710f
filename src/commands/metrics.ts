import {QmCommand} from '../cli/qm-command.js'
import {QmClient} from '../control/qm-client.js'
import {ExitCode} from '../errors.js'

export default class Metrics extends QmCommand {
  static override summary = "Print the daemon's metrics in Prometheus's text format."
  static override description =
    'What a Prometheus scrape gets: per instance up, state, restarts by reason, probe latency (a histogram by method) and failures by reason, the running version beside the expected one, CPU and memory; certificate expiry times, registry writes pending, and the daemon\'s own process metrics. The manifest\'s metrics: {listen: 127.0.0.1:9464} also serves them over HTTP at /metrics.'
  static override examples = ['<%= config.bin %> metrics', '<%= config.bin %> metrics | grep qm_service_up']

  async run(): Promise<void> {
    const {flags} = await this.parse(Metrics)
    const manifest = await this.loadManifest(flags.manifest)
    const text = await new QmClient(manifest).metrics()
    if (text === undefined) {
      this.diag('no qm daemon runs for this manifest: there is nothing to measure; qm start starts one')
      this.setExitCode(ExitCode.failed)
      return
    }
    process.stdout.write(text)
  }
}
