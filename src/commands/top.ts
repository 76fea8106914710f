import {QmCommand} from '../cli/qm-command.js'

export default class Top extends QmCommand {
  static override summary = 'A live view of every service, to watch and act on them from one screen.'
  static override description =
    'Every instance with its state, pid, port, health and probe latency (last, p50 and p99 of the recent probes), version (marked when it is not the expected one), uptime, restarts, CPU, memory and days until its certificates run out, updated from the daemon as things happen. ↑↓ or j/k select; enter or l shows the log, following (/ searches, n finds the next hit); r restarts, s stops, t starts, o rolls out the selected service, asking first when it would stop something that serves; ? helps; q or Ctrl-C leaves, and every service keeps running. It needs a terminal: off one, use qm status --watch or qm events.'
  static override examples = ['<%= config.bin %> top']

  async run(): Promise<void> {
    const {flags} = await this.parse(Top)
    const manifest = await this.loadManifest(flags.manifest)
    const {showTop} = await import('../cli/top.js')
    this.setExitCode((await showTop(manifest)).exitCode)
  }
}
