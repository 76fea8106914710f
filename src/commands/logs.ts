import {Args, Flags} from '@oclif/core'
import {manifestFlagWithoutShort, QmCommand} from '../cli/qm-command.js'
import {UsageError} from '../errors.js'
import {durationMs} from '../manifest/units.js'
import {selectInstances, expandInstances} from '../manifest/instances.js'
import {logPath} from '../supervisor/log-files.js'
import {followLines, recentLines, type ServiceLogLine} from '../supervisor/log-view.js'
import {colourFor} from '../ui/colour.js'
import {prefixedOutput} from '../ui/prefixed-output.js'

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
    const instances = selectInstances(manifest, expandInstances(manifest.services), argv as string[])
    const sources = instances.map((instance) => ({name: instance.name, path: logPath(manifest.stateDir, instance.name)}))
    const sinceIso = flags.since === undefined ? undefined : sinceTime(flags.since)
    const c = colourFor(process.stdout)
    const prefixed = prefixedOutput(c, sources.map((s) => s.name), (line) => this.out(line))
    const bare = sources.length === 1 && (argv as string[]).length === 1
    const print = (line: ServiceLogLine) => {
      const text = flags.timestamps ? `${c.dim(line.at ?? '-')} ${line.text}` : line.text
      if (bare) this.out(text)
      else prefixed.logLine(line.name, text)
    }
    for (const line of recentLines(sources, {count: flags.tail, ...(sinceIso ? {sinceIso} : {})})) print(line)
    if (!flags.follow) return
    const stop = followLines(sources, print)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    stop()
  }
}

function sinceTime(text: string): string {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const at = Date.parse(text)
    if (Number.isNaN(at)) throw new UsageError(`--since ${text} is not a time`, 'give a duration back from now (10m, 2h) or an ISO 8601 time (2026-12-01T15:00:00Z)')
    return new Date(at).toISOString()
  }
  let ms: number
  try {
    ms = durationMs(text)
  } catch {
    throw new UsageError(`--since ${text} is not a duration or a time`, 'give a duration back from now (10m, 2h) or an ISO 8601 time (2026-12-01T15:00:00Z)')
  }
  return new Date(Date.now() - ms).toISOString()
}
