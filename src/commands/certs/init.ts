import {Flags} from '@oclif/core'
import {relative, resolve} from 'node:path'
import {QmCommand} from '../../cli/qm-command.js'
import type {CertInitResult} from '../../certs/issue.js'

export default class CertsInit extends QmCommand {
  static override summary = 'Make a development CA and a server and client pair signed by it.'
  static override description = `Writes ca.crt, ca.key, server.crt, server.key, client.crt and client.key (ECDSA P-256, keys PEM PKCS#8 with mode 0600). The server certificate names localhost, 127.0.0.1, ::1, this machine's host name and every --host. Existing files are left alone unless --force is given.`
  static override examples = [
    '<%= config.bin %> certs init',
    '<%= config.bin %> certs init --dir /ms/certs --host worker-2.internal --host 10.0.0.12',
    '<%= config.bin %> certs init --days 30 --force',
  ]
  static override enableJsonFlag = true
  static override flags = {
    dir: Flags.string({char: 'd', description: 'folder to write the set to', default: 'certs'}),
    days: Flags.integer({description: 'days the certificates stay valid', default: 365, min: 1}),
    host: Flags.string({description: 'another name or IP address for the server certificate', multiple: true}),
    force: Flags.boolean({description: 'replace certificate files that already exist'}),
  }

  async run(): Promise<CertInitResult> {
    const {flags} = await this.parse(CertsInit)
    const {initCertificates} = await import('../../certs/issue.js')
    const result = await initCertificates({
      dir: resolve(flags.dir),
      days: flags.days,
      hosts: flags.host ?? [],
      force: flags.force,
    })
    if (!this.jsonEnabled()) {
      for (const file of result.files) this.out(`wrote ${relative(process.cwd(), file) || file}`)
      this.diag(`server certificate names: ${result.serverNames.join(', ')}`)
      this.diag(`valid until ${result.notAfter}`)
    }
    return result
  }
}
