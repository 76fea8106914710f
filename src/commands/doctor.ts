import {ExitCode} from '../errors.js'
import {QmCommand} from '../cli/qm-command.js'
import type {DoctorReport} from '../doctor/report.js'
import {colourFor} from '../ui/colour.js'
import {doctorSummary, renderDoctorReport} from '../ui/doctor-report.js'

export default class Doctor extends QmCommand {
  static override summary = 'Check the host and the project for what keeps services from starting.'
  static override description = `Prints one line per check, OK, WARN or FAIL, with what was found and, under it, the fix. The checks: reserved-ports (the port range in net.ipv4.ip_local_reserved_ports, when it lies in the ephemeral range), foreign-ports (ports of the range held by processes qm does not run), registry-ports (registry rows whose port someone other than that service holds), daemon-files (a stale pid file or socket), open-files (the limit against what 40 services need), certificates (the findings of qm certs check), executables (each service's executable, and whether its Python imports grpc), registry (reachable, its table with the ServiceEndpoint columns).

Exits 0 when nothing is FAIL, 1 otherwise.`
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']
  static override enableJsonFlag = true

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const manifest = await this.loadManifest(flags.manifest)
    const {runDoctor} = await import('../doctor/run.js')
    const report = await runDoctor(manifest, {env: process.env})
    if (report.checks.some((check) => check.status === 'FAIL')) this.setExitCode(ExitCode.failed)
    if (!this.jsonEnabled()) {
      this.out(renderDoctorReport(colourFor(process.stdout), report.checks, process.stdout.isTTY ? process.stdout.columns : undefined))
      this.diag(doctorSummary(report.checks))
    }
    return report
  }
}
