import {Flags} from '@oclif/core'
import {isAbsolute, relative} from 'node:path'
import {ExitCode} from '../../errors.js'
import {QmCommand} from '../../cli/qm-command.js'
import type {CertCheckResult} from '../../certs/check-target.js'
import {colourFor} from '../../ui/colour.js'

export default class CertsCheck extends QmCommand {
  static override summary = 'Check the certificate set before a service or qm trips over it.'
  static override description = `Checks that each file is there and parses, that server.crt and client.crt are signed by ca.crt, that each key matches its certificate, that server.crt covers the registry host and allows serverAuth, that client.crt allows clientAuth, the dates (a warning under 30 days left), and that no key file is readable by group or others. Prints one line per finding; exits 1 if any is FAIL.

Without --dir the folders come from the manifest's services, or ./certs when there is no manifest; without --host the host is registry.host from the manifest, else localhost.`
  static override examples = ['<%= config.bin %> certs check', '<%= config.bin %> certs check --dir /ms/certs --host worker-2.internal']
  static override enableJsonFlag = true
  static override flags = {
    dir: Flags.string({char: 'd', description: 'certificate folder (default: from the manifest, else ./certs)'}),
    host: Flags.string({description: 'name clients dial, which server.crt must cover (default: registry.host, else localhost)'}),
  }

  async run(): Promise<CertCheckResult> {
    const {flags} = await this.parse(CertsCheck)
    const {runCertificateCheck} = await import('../../certs/check-target.js')
    const result = await runCertificateCheck({
      ...(flags.dir === undefined ? {} : {dir: flags.dir}),
      ...(flags.host === undefined ? {} : {host: flags.host}),
      ...(flags.manifest === undefined ? {} : {manifestFlag: flags.manifest}),
      env: process.env,
      cwd: process.cwd(),
    })
    if (result.errors > 0) this.setExitCode(ExitCode.failed)
    if (!this.jsonEnabled()) {
      const c = colourFor(process.stdout)
      const label = {ok: c.green('OK  '), warn: c.yellow('WARN'), fail: c.red('FAIL')}
      const shown = result.findings.map((f) => ({...f, file: displayPath(f.file)}))
      const width = Math.max(0, ...shown.map((f) => f.file.length))
      for (const f of shown) this.out(`${label[f.level]}  ${f.file.padEnd(width)}  ${f.message}`)
      this.diag(`host ${result.host}: ${result.errors} error(s), ${result.warnings} warning(s)`)
    }
    return result
  }
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel
}
