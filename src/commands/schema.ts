import {Command} from '@oclif/core'
import {readManifestSchema} from '../manifest/schema-file.js'

export default class Schema extends Command {
  static override summary = 'Print the JSON Schema of services.yaml, for editors and CI checks.'
  static override description = 'Editors with the YAML language server validate as you type when the manifest starts with\n  # yaml-language-server: $schema=./node_modules/qm/schema/manifest.schema.json\nor with the path that `qm schema > qm.schema.json` wrote.'
  static override examples = ['<%= config.bin %> schema > qm.schema.json']

  async run(): Promise<void> {
    process.stdout.write(`${JSON.stringify(readManifestSchema(), null, 2)}\n`)
  }
}
