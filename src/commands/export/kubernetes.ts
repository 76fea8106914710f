import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../../cli/qm-command.js'
import type {KubernetesExportResult} from '../../export/kubernetes.js'

export default class ExportKubernetes extends QmCommand {
  static override summary = 'Print a Deployment and a Service per service, probed by qm health over mutual TLS.'
  static override description = `Per service a Deployment (replicas from instances, the six standard arguments pointing at certificates mounted from a Secret, env and resources from the manifest, startup, readiness and liveness probes that exec "qm health" over mTLS) and a Service on the port from the registry. A "port: auto" service is registered first. The Secret is only named: the kubectl command that makes it from the certificate files is printed on stderr, and no key material is written. The image holds the manifest's folder at /app and qm on its PATH.`
  static override examples = [
    '<%= config.bin %> export kubernetes --image registry.example/ms:1.4 --namespace ms | kubectl apply -f -',
    '<%= config.bin %> export kubernetes ocr --image registry.example/ms:1.4 --out k8s/ocr.yaml',
  ]
  static override strict = false
  static override args = {names: Args.string({description: 'services to export (default: all)'})}
  static override flags = {
    image: Flags.string({description: 'container image with the services and qm (required)'}),
    project: Flags.string({description: "project name in object names and labels (default: the manifest's project:, else its folder's name)"}),
    namespace: Flags.string({char: 'n', description: 'namespace of every object (default: none, kubectl\'s current one)'}),
    out: Flags.string({char: 'o', description: 'file to write, or - for stdout', default: '-'}),
    force: Flags.boolean({description: 'overwrite a file at --out that qm export did not write'}),
  }

  async run(): Promise<KubernetesExportResult> {
    const {argv, flags} = await this.parse(ExportKubernetes)
    const manifest = await this.loadManifest(flags.manifest)
    const {exportKubernetes} = await import('../../export/kubernetes.js')
    const result = await exportKubernetes(manifest, {
      names: argv as string[],
      ...(flags.image === undefined ? {} : {image: flags.image}),
      ...(flags.project === undefined ? {} : {project: flags.project}),
      ...(flags.namespace === undefined ? {} : {namespace: flags.namespace}),
      out: flags.out,
      force: flags.force,
      cwd: process.cwd(),
    })
    if (result.out === '-') process.stdout.write(result.text)
    else this.out(result.out)
    this.diag('The pods mount their certificates from a Secret this export does not fill; make it from the files first:')
    for (const secret of result.secrets) this.diag(`  ${secret.command}`)
    return result
  }
}
