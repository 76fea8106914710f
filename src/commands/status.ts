import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import type {StatusResult} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'
import {showStatus, statusText} from '../cli/read-commands.js'

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

  async run(): Promise<StatusResult> {
    const {argv, flags} = await this.parse(Status)
    const manifest = await this.loadManifest(flags.manifest)
    const names = argv as string[]
    const client = new QmClient(manifest)
    let report = await client.status(names)
    if (flags.watch && !this.jsonEnabled()) {
      for (;;) {
        process.stdout.write(`\u001B[2J\u001B[H${await statusText(report)}\n`)
        await new Promise((resolve) => setTimeout(resolve, 1000))
        report = await client.status(names)
      }
    }
    const {exitCode} = await showStatus(report, this.io())
    this.setExitCode(exitCode)
    return report
  }
}
