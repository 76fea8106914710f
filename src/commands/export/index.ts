import {Command, loadHelpClass} from '@oclif/core'

export default class Export extends Command {
  // Hidden from the root command list, where the export topic already stands for it.
  static override hidden = true
  static override summary = 'Hand the services to systemd or Kubernetes: write units or manifests from services.yaml.'
  static override description = `qm export systemd writes a unit per service instance, with readiness, liveness, restarts and the registry row mapped onto systemd. qm export kubernetes prints a Deployment and a Service per service, with exec probes that run qm health over mutual TLS. Both take the ports from the registry and never write key material.`
  static override examples = [
    '<%= config.bin %> export systemd --out /etc/systemd/system',
    '<%= config.bin %> export kubernetes --image registry.example/ms:1.4 --namespace ms --out k8s.yaml',
  ]

  async run(): Promise<void> {
    const Help = await loadHelpClass(this.config)
    await new Help(this.config).showHelp(['export'])
  }
}
