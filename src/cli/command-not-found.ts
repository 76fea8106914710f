// oclif's command_not_found hook: an unknown command is refused in qm's own words, with the
// nearest command suggested, and exit 2 like every usage error. `qm log echo` reaches here
// as "log:echo" (oclif joins the words of a topic); the first word is what was mistyped.
import type {Hook} from '@oclif/core'
import {closest} from '../closest-word.js'
import {ExitCode} from '../errors.js'
import {colourFor} from '../ui/colour.js'

const hook: Hook.CommandNotFound = async function (options) {
  const typed = options.id.split(':')[0]!
  const commands = [...new Set(options.config.commands.flatMap((command) => [command.id, ...command.aliases]).map((id) => id.split(':')[0]!))]
  const guess = closest(typed, commands)
  const c = colourFor(process.stderr)
  process.stderr.write(`${c.red('error')} unknown command "${typed}"\n`)
  process.stderr.write(`${c.dim('hint')}  ${guess ? `did you mean "${guess}"? ` : ''}qm help lists the commands\n`)
  this.exit(ExitCode.usage)
}

export default hook
