import {Args} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {runUp} from '../cli/up.js'

export default class Up extends QmCommand {
  static override summary = 'Run the supervisor in the foreground: start everything, print every log line, stop all on Ctrl-C.'
  static override description = 'For containers (as PID 1) and systemd ExecStart: lines print as "name | line", and SIGINT, SIGTERM or SIGHUP (the terminal or ssh session closing) stops every service gracefully, then exits 0. qm status and the other commands work against it as against the background daemon.'
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up echo']
  static override strict = false
  static override args = {names: Args.string({description: 'services to start (default: all)'})}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Up)
    const manifest = await this.loadManifest(flags.manifest)
    await runUp(manifest, argv as string[], (line) => this.out(line))
  }
}
