import {Flags} from '@oclif/core'
import type {EndpointsCheckReport} from '../cli/endpoints-check.js'
import {QmCommand} from '../cli/qm-command.js'
import {showEndpoints} from '../cli/read-commands.js'
import {durationFlag} from '../manifest/units.js'
import type {EndpointListing} from '../registry/endpoints.js'

export default class Endpoints extends QmCommand {
  static override summary = 'List the registry: port, name, ACTIVE/INACTIVE, host, and free ports left.'
  static override description = `With --all-hosts, every host's rows of a table shared by several hosts (PostgreSQL, or one SQLite file), and a line per host with its free ports.

With --check, every row listed is probed from here over mTLS (grpc.health.v1, else one Call), all at once, each within --timeout. A row that is ACTIVE but that nothing answers on is STALE: its host or its qm is gone, and the platform still sends it Calls. Exits 3 when a stale row was found, 0 when none. With --mark-inactive, qm asks, then marks the stale rows inactive, each only if it is still active on the host and port it was probed on; off a terminal it refuses unless --yes is given.`
  static override examples = [
    '<%= config.bin %> endpoints',
    '<%= config.bin %> endpoints --json',
    '<%= config.bin %> endpoints --all-hosts',
    '<%= config.bin %> endpoints --all-hosts --check',
    '<%= config.bin %> endpoints --all-hosts --check --mark-inactive --yes',
  ]
  static override enableJsonFlag = true
  static override flags = {
    host: Flags.string({description: 'host to list (default: registry.host from the manifest)', exclusive: ['all-hosts']}),
    'all-hosts': Flags.boolean({description: 'list the rows of every host', exclusive: ['host']}),
    check: Flags.boolean({description: 'probe every row listed from here, and show the active rows nothing answers on (stale)'}),
    'mark-inactive': Flags.boolean({description: 'with --check: mark the stale rows inactive, after asking'}),
    yes: Flags.boolean({char: 'y', description: 'with --mark-inactive: do not ask (needed off a terminal)'}),
    timeout: Flags.string({description: 'with --check: how long each probe may take (default 2s)'}),
    certs: Flags.string({description: 'with --check: folder with ca.crt, client.crt and client.key for rows that are not services of this manifest'}),
    'server-name': Flags.string({description: 'with --check: TLS name the services\' certificate carries (default: the service\'s health.server_name, else localhost)'}),
  }

  async run(): Promise<EndpointListing | EndpointsCheckReport> {
    const {flags} = await this.parse(Endpoints)
    const {assertCheckFlags, showEndpointsCheck} = await import('../cli/endpoints-check.js')
    const checkFlags = {
      check: flags.check,
      markInactive: flags['mark-inactive'],
      yes: flags.yes,
      allHosts: flags['all-hosts'],
      ...(flags.host === undefined ? {} : {host: flags.host}),
      ...(flags.certs === undefined ? {} : {certsDir: flags.certs}),
      ...(flags['server-name'] === undefined ? {} : {serverName: flags['server-name']}),
    }
    assertCheckFlags(checkFlags, new Set(Object.keys(flags).filter((name) => flags[name as keyof typeof flags] !== undefined)))
    const timeout = flags.timeout === undefined ? {} : {timeoutMs: durationFlag(flags.timeout)}
    const manifest = await this.loadManifest(flags.manifest)
    if (!flags.check) return (await showEndpoints(manifest, {...(flags.host === undefined ? {} : {host: flags.host}), allHosts: flags['all-hosts']}, this.io())).result
    const {result, exitCode} = await showEndpointsCheck(manifest, {...checkFlags, ...timeout}, this.changeIo(), {input: process.stdin, output: process.stderr})
    this.setExitCode(exitCode)
    return result
  }
}
