import {Args, Flags} from '@oclif/core'
import {ExitCode} from '../errors.js'
import {QmCommand} from '../cli/qm-command.js'
import {QmClient, type StatusReport} from '../control/qm-client.js'
import {colourFor} from '../ui/colour.js'
import {certificateWarnings, credentialWarnings, registryBehind, renderStatusTable} from '../ui/service-report.js'

export default class Status extends QmCommand {
  static override summary = 'Show each service: state, pid, port, health, version, uptime, restarts, cpu, memory.'
  static override description = 'Exits 0 only when every listed service is running and its last probe said SERVING, 3 otherwise. With no daemon running it shows what the records say, checking each recorded process against the kernel.'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status ocr --json', '<%= config.bin %> status --watch']
  // What PM2 (ls, list), docker compose (ps) and supervisorctl users type.
  static override aliases = ['ps', 'ls', 'list']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to show (default: all)'})}
  static override flags = {
    watch: Flags.boolean({char: 'w', description: 'redraw every second until Ctrl-C'}),
  }

  async run(): Promise<StatusReport> {
    const {argv, flags} = await this.parse(Status)
    const manifest = await this.loadManifest(flags.manifest)
    const names = argv as string[]
    const client = new QmClient(manifest)
    let report = await client.status(names)
    if (flags.watch && !this.jsonEnabled()) {
      for (;;) {
        process.stdout.write(`\u001B[2J\u001B[H${this.render(report)}\n`)
        await new Promise((resolve) => setTimeout(resolve, 1000))
        report = await client.status(names)
      }
    }
    if (!this.jsonEnabled()) this.out(this.render(report))
    const healthy = report.services.every((s) => s.state === 'running' && s.health?.status === 'SERVING')
    if (!healthy) this.setExitCode(ExitCode.unhealthy)
    return report
  }

  private render(report: StatusReport): string {
    const c = colourFor(process.stdout)
    const width = process.stdout.isTTY ? process.stdout.columns : undefined
    const lines = [renderStatusTable(c, report.services, width), ...credentialWarnings(c, report.services), ...certificateWarnings(c, report.certificates), ...registryBehind(c, report.registry)]
    if (!report.daemon) {
      const alive = report.services.filter((s) => s.pid !== null).length
      lines.push(`${c.yellow('no qm daemon runs for this manifest')}: states are from its records${alive > 0 ? `; ${alive} process(es) still run, and qm start adopts them` : ''}`)
    }
    return lines.join('\n')
  }
}
