import {Args, Flags} from '@oclif/core'
import {manifestFlagWithoutShort, QmCommand} from '../cli/qm-command.js'
import {showRecentLogs} from '../cli/read-commands.js'

export default class Logs extends QmCommand {
  static override summary = 'Print what services wrote to stdout and stderr, merged in time order; -f follows.'
  static override description =
    'Reads .qm/logs/NAME.log beside the manifest. With no name, every service, each line behind "name |" in the colour qm up uses, as docker compose logs prints them; one instance named prints its lines bare. -f keeps following, across rotations, until Ctrl-C. Here -f is --follow, as in every log tool: give the manifest with --manifest, QM_MANIFEST, or -f before the command (qm -f FILE logs -f).'
  static override examples = ['<%= config.bin %> logs', '<%= config.bin %> logs ocr -f -n 20', '<%= config.bin %> logs ocr pdf_extractor --since 10m --timestamps']
  static override strict = false
  static override baseFlags = {manifest: manifestFlagWithoutShort}
  static override args = {names: Args.string({description: 'services or instances (default: all)'})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until Ctrl-C'}),
    tail: Flags.integer({char: 'n', aliases: ['lines'], description: 'how many of the last lines of each service to print', default: 50, min: 0}),
    since: Flags.string({description: 'only lines written since then: a duration back from now (10m, 2h) or an ISO 8601 time'}),
    timestamps: Flags.boolean({char: 't', description: 'show the time each line was written'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Logs)
    const manifest = await this.loadManifest(flags.manifest)
    const {sources, print} = await showRecentLogs(
      manifest,
      {names: argv as string[], tail: flags.tail, timestamps: flags.timestamps, ...(flags.since === undefined ? {} : {since: flags.since})},
      {out: (line) => this.out(line)},
    )
    if (!flags.follow) return
    const {followLines} = await import('../supervisor/log-view.js')
    const stop = followLines(sources, print, {onError: (name, error) => this.warn(`cannot read the log of ${name}: ${error.message}`)})
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    stop()
  }
}
