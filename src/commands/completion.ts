import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import {UsageError} from '../errors.js'
import {expandInstances} from '../manifest/instances.js'
import {completionScript, type Shell} from '../ui/completion-scripts.js'

export default class Completion extends QmCommand {
  static override summary = 'Print shell completion for bash, zsh or fish: commands, flags and the manifest’s service names.'
  static override description =
    'bash: eval "$(qm completion bash)" in ~/.bashrc. zsh: eval "$(qm completion zsh)" in ~/.zshrc, after compinit. fish: qm completion fish > ~/.config/fish/completions/qm.fish. Service names are read from the manifest when you press Tab, so they follow the folder you are in.'
  static override examples = ['eval "$(<%= config.bin %> completion bash)"', '<%= config.bin %> completion fish > ~/.config/fish/completions/qm.fish']
  static override args = {shell: Args.string({description: 'bash, zsh or fish', options: ['bash', 'zsh', 'fish']})}
  static override flags = {
    services: Flags.boolean({description: 'print the service and instance names of the manifest, one a line (what the scripts call)', hidden: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Completion)
    if (flags.services) {
      const manifest = await this.loadManifest(flags.manifest)
      const names = new Set(manifest.services.flatMap((service) => [service.name, ...expandInstances([service]).map((i) => i.name)]))
      this.out([...names].join('\n'))
      return
    }
    if (!args.shell) throw new UsageError('which shell?', 'qm completion bash, qm completion zsh or qm completion fish')
    const commands = this.config.commands
      .filter((command) => !command.hidden)
      .flatMap((command) => [command.id, ...command.aliases].map((id) => ({
        words: id.split(':'),
        flags: Object.entries(command.flags).flatMap(([name, flag]) => [`--${name}`, ...(flag.char ? [`-${flag.char}`] : [])]),
      })))
    process.stdout.write(completionScript(args.shell as Shell, this.config.bin, commands))
  }
}
