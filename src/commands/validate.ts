import {QmCommand} from '../cli/qm-command.js'
import type {Manifest} from '../manifest/types.js'
import {describeRegistry} from '../registry/open.js'
import {renderTable} from '../ui/table.js'

export default class Validate extends QmCommand {
  static override summary = 'Check the manifest and print what it resolves to.'
  static override description = 'Exit 0 when the manifest is valid, 2 with file:line:column and the field when it is not. --json prints the resolved manifest: defaults applied, durations in milliseconds, paths absolute.'
  static override examples = ['<%= config.bin %> validate', '<%= config.bin %> validate -f deploy/services.yaml --json']
  static override enableJsonFlag = true

  async run(): Promise<Manifest> {
    const {flags} = await this.parse(Validate)
    const manifest = await this.loadManifest(flags.manifest, {cached: false})
    if (!this.jsonEnabled()) {
      this.out(`${manifest.file}: valid, ${manifest.services.length} service(s), ports ${manifest.portRange[0]}-${manifest.portRange[1]}, registry ${describeRegistry(manifest.registry)} (table ${manifest.registry.table}, host ${manifest.registry.host})`)
      const rows = manifest.services.map((s) => [
        s.name,
        String(s.port),
        String(s.instances),
        s.restart,
        s.health.type,
        s.dependsOn.join(',') || '-',
        s.command.join(' '),
      ])
      this.out(renderTable(['NAME', 'PORT', 'INSTANCES', 'RESTART', 'HEALTH', 'DEPENDS ON', 'COMMAND'], rows))
    }
    return manifest
  }
}
