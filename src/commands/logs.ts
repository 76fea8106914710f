import {Args, Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {QmCommand} from '../cli/qm-command.js'
import {UsageError} from '../errors.js'
import {expandInstances} from '../supervisor/instances.js'
import {lastLines, LogFollower, logPath} from '../supervisor/log-files.js'

export default class Logs extends QmCommand {
  static override summary = "Print a service's captured stdout and stderr."
  static override description = 'Reads .qm/logs/NAME.log beside the manifest; -f keeps following it, across rotations, until Ctrl-C.'
  static override examples = ['<%= config.bin %> logs ocr', '<%= config.bin %> logs ocr -f -n 20']
  static override args = {name: Args.string({description: 'service (or instance) name', required: true})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines'}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines to print', default: 50, min: 0}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const manifest = await this.loadManifest(flags.manifest)
    const names = expandInstances(manifest.services).map((instance) => instance.name)
    if (!names.includes(args.name)) throw new UsageError(`unknown service "${args.name}"`, `services: ${names.join(', ')}`)
    const file = logPath(manifest.stateDir, args.name)
    if (!existsSync(file) && !flags.follow) {
      this.diag(`${args.name} has no log yet (${file})`)
      return
    }
    for (const line of lastLines(file, flags.lines)) this.out(line)
    if (!flags.follow) return
    const follower = new LogFollower(file, (line) => this.out(line), {fromEnd: true})
    follower.start()
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    follower.stop()
  }
}
