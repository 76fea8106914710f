import {join} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../../cli/qm-command.js'
import {colourFor} from '../../ui/colour.js'
import type {SystemdExportResult} from '../../export/systemd.js'

export default class ExportSystemd extends QmCommand {
  static override summary = 'Write systemd units that run the services as qm would, without its daemon.'
  static override description = `One qm-NAME.service per instance (ExecStart exactly the argv qm spawns, on the port from the registry; readiness through "qm health NAME --wait"; the registry row active while it runs; Restart=, RestartSec=, StartLimitBurst= and TimeoutStopSec= from the manifest), a qm-NAME-health.timer and .service that restart it after health.failure_threshold failed probes in a row, and one qm-PROJECT.target that wants them all. Named services bring what they depend on. A "port: auto" service is registered first. A file at --out that qm export did not write is left alone unless --force.`
  static override examples = [
    '<%= config.bin %> export systemd --out /etc/systemd/system && systemctl daemon-reload && systemctl start qm-main.target',
    '<%= config.bin %> export systemd ocr --user --out ~/.config/systemd/user',
  ]
  static override strict = false
  static override args = {names: Args.string({description: 'services to export (default: all)'})}
  static override flags = {
    out: Flags.string({char: 'o', description: 'folder for the unit files (default: .qm/systemd beside the manifest)'}),
    user: Flags.boolean({description: 'units for the user\'s own manager (systemctl --user)'}),
    'user-name': Flags.string({description: 'User= of system units (default: the user running the export; none, so root, when that is root)'}),
    project: Flags.string({description: "project name in unit names, qm-PROJECT.target (default: the manifest's project:, else its folder's name)"}),
    force: Flags.boolean({description: 'overwrite files at --out that qm export did not write'}),
  }

  async run(): Promise<SystemdExportResult> {
    const {argv, flags} = await this.parse(ExportSystemd)
    const manifest = await this.loadManifest(flags.manifest)
    const {exportSystemd} = await import('../../export/systemd.js')
    const result = await exportSystemd(manifest, {
      names: argv as string[],
      ...(flags.out === undefined ? {} : {outDir: flags.out}),
      user: flags.user,
      ...(flags['user-name'] === undefined ? {} : {userName: flags['user-name']}),
      ...(flags.project === undefined ? {} : {project: flags.project}),
      force: flags.force,
      cwd: process.cwd(),
      env: process.env,
    })
    for (const file of result.files) this.out(join(result.outDir, file))
    const systemctl = flags.user ? 'systemctl --user' : 'systemctl'
    this.diag(`${result.files.length} unit files in ${result.outDir}; where systemd does not read them already, copy them into ${flags.user ? '~/.config/systemd/user' : '/etc/systemd/system'}, then: ${systemctl} daemon-reload && ${systemctl} start ${result.target}`)
    if (result.runsAsRoot) this.diag(`${colourFor(process.stderr).yellow('warning')} these system units have no User=, so the services run as root; pass --user-name USER to run them as USER`)
    return result
  }
}
