import {Args, Flags} from '@oclif/core'
import {durationFlag} from '../manifest/units.js'
import {QmCommand} from '../cli/qm-command.js'
import {ExitCode} from '../errors.js'
import type {HealthReport} from '../health/check.js'

export default class Health extends QmCommand {
  static override summary = 'Probe one service over mutual TLS and say whether it is SERVING.'
  static override description = `Asks grpc.health.v1.Health/Check and, when the service does not implement it (the guide's services serve only Call), sends one end-of-stream frame to quantra.MicroService/Call and expects one back. Prints one line: SERVING with the method, latency and version, or NOT_SERVING, UNREACHABLE, TLS_ERROR, TIMEOUT or PROTOCOL_ERROR with the reason. Exits 0 when SERVING, 3 otherwise.

A NAME's port comes from the registry, its certificates and health settings from the manifest. For host:port the certificates are --certs, else those of the manifest's services, else ./certs. On this host qm dials a port only when the kernel shows a listener on it.`
  static override examples = [
    '<%= config.bin %> health ocr',
    '<%= config.bin %> health 127.0.0.1:50052 --certs /ms/certs',
    '<%= config.bin %> health pdf_extractor --type call --timeout 5s --json',
    '<%= config.bin %> health ocr --wait 30s',
  ]
  static override enableJsonFlag = true
  static override args = {target: Args.string({description: 'service name, or host:port', required: true})}
  static override flags = {
    certs: Flags.string({description: 'folder with ca.crt, client.crt and client.key'}),
    timeout: Flags.string({description: 'how long the probe may take (default: the service\'s health.timeout, else 2s)'}),
    type: Flags.string({description: 'auto: health service, else Call (default: the service\'s health.type, else auto)', options: ['auto', 'grpc', 'call', 'tcp']}),
    'server-name': Flags.string({description: 'TLS name the service certificate must carry (default: health.server_name, else localhost)'}),
    wait: Flags.string({description: 'probe again until SERVING or this long has passed (e.g. 30s); exit 3 if it never is'}),
    'failures-before-exit': Flags.integer({min: 1, description: 'for a NAME: count failed probes in a row across runs (in .qm/health/) and exit 3 only at the Nth, 0 before it'}),
  }

  async run(): Promise<HealthReport> {
    const {args, flags} = await this.parse(Health)
    // The probes' HTTP/2 client and the protos load here, not at start-up: `qm --version` never pays for them.
    const {checkHealth, describeHealth} = await import('../health/check.js')
    const report = await checkHealth({
      target: args.target,
      ...(flags.certs === undefined ? {} : {certsDir: flags.certs}),
      ...(flags.manifest === undefined ? {} : {manifestFlag: flags.manifest}),
      ...(flags.timeout === undefined ? {} : {timeoutMs: durationFlag(flags.timeout)}),
      ...(flags.type === undefined ? {} : {type: flags.type as HealthReport['method'] | 'auto'}),
      ...(flags['server-name'] === undefined ? {} : {serverName: flags['server-name']}),
      ...(flags.wait === undefined ? {} : {waitMs: durationFlag(flags.wait, '--wait')}),
      ...(flags['failures-before-exit'] === undefined ? {} : {failuresBeforeExit: flags['failures-before-exit']}),
      env: process.env,
      cwd: process.cwd(),
    })
    const limit = flags['failures-before-exit']
    if (limit === undefined ? report.status !== 'SERVING' : report.failuresInRow! >= limit) this.setExitCode(ExitCode.unhealthy)
    if (!this.jsonEnabled()) this.out(describeHealth(report))
    return report
  }
}
