import {Args, Flags} from '@oclif/core'
import {showRollout} from '../cli/change-commands.js'
import {drainOption} from '../cli/drain-flags.js'
import {QmCommand} from '../cli/qm-command.js'
import {QmClient} from '../control/qm-client.js'

export default class Rollout extends QmCommand {
  static override summary = 'Replace running services with no downtime: a new process before the old one goes.'
  static override description = [
    'For each named instance (all when none), one at a time: a spare port is reserved in the registry (an inactive row of its own, so no qm register on any host takes it), a new process starts there with the manifest as it is now, and must pass three gates: the health probe over mTLS, the expected version (expected_version or --expect-version) in its metadata, and one real Call that ends with an end-of-stream frame.',
    "Then the service's row moves to the new port in one transaction, keeping its id and name, so the platform's next lookup finds the new process. The old process drains (rollout.drain_delay, or --drain, ending early when no client is left), kept at least rollout.watch so that a new process that dies soon after the switch hands the row back, and is stopped.",
    'A failed gate kills the new process and leaves the old one serving and the row untouched (exit 1, with the reason and the new process\'s last log lines). A service with a fixed port cannot swap: it is refused, or restarted in place after a drain with --allow-downtime.',
  ].join('\n\n')
  static override examples = ['<%= config.bin %> rollout', '<%= config.bin %> rollout ocr --expect-version 1.2.0', '<%= config.bin %> rollout --json']
  static override enableJsonFlag = true
  static override strict = false
  static override args = {names: Args.string({description: 'services to roll out (default: all)'})}
  static override flags = {
    'expect-version': Flags.string({description: 'the version the new process must report (default: the manifest\'s expected_version)', helpValue: 'VERSION'}),
    'allow-downtime': Flags.boolean({description: 'restart a service with a fixed port in place, after a drain, instead of refusing it'}),
    drain: Flags.string({description: "wait up to this long (5s, 500ms) for the old process's clients to finish once the row has moved, instead of rollout.drain_delay", helpValue: 'DURATION'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rollout)
    const manifest = await this.loadManifest(flags.manifest)
    const options = {
      ...drainOption(flags),
      ...(flags['expect-version'] === undefined ? {} : {expectVersion: flags['expect-version']}),
      ...(flags['allow-downtime'] ? {allowDowntime: true} : {}),
    }
    const {exitCode} = await showRollout((onEvent) => new QmClient(manifest).rollout(argv as string[], onEvent, options), this.changeIo())
    this.setExitCode(exitCode)
    // With --json the result was the last of the JSON lines; nothing more is printed.
  }
}
