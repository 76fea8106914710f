// The bodies of the read commands operators type all day (status, endpoints, logs -n),
// free of oclif: their oclif commands run them after parsing, and the fast path
// (fast-path.ts) runs them without loading oclif at all. Each prints through `io` and
// returns the result that --json prints and the exit code.
import {ExitCode} from '../errors.js'
import type {StatusResult} from '../control/contract.js'
import type {Manifest} from '../manifest/types.js'
import type {EndpointListing} from '../registry/endpoints.js'
import type {ServiceLogLine} from '../supervisor/log-view.js'
import {colourFor} from '../ui/colour.js'

export interface CommandIo {
  out: (text: string) => void
  json: boolean
}

export interface Outcome<T> {
  result: T
  exitCode: number
}

/** The status table (or nothing, with --json) of a status result; exit 3 unless every service runs and answers SERVING. */
export async function showStatus(report: StatusResult, io: CommandIo): Promise<Outcome<StatusResult>> {
  if (!io.json) io.out(await statusText(report))
  const healthy = report.services.every((s) => s.state === 'running' && s.health?.status === 'SERVING')
  return {result: report, exitCode: healthy ? ExitCode.ok : ExitCode.unhealthy}
}

export async function statusText(report: StatusResult): Promise<string> {
  const {certificateWarnings, credentialWarnings, registryBehind, renderStatusTable} = await import('../ui/service-report.js')
  const c = colourFor(process.stdout)
  const width = process.stdout.isTTY ? process.stdout.columns : undefined
  const lines = [
    renderStatusTable(c, report.services, width),
    ...credentialWarnings(c, report.services),
    // A daemon started by an older qm sends no certificates.
    ...certificateWarnings(c, report.certificates ?? []),
    ...registryBehind(c, report.registry),
  ]
  if (!report.daemon) {
    const alive = report.services.filter((s) => s.pid !== null).length
    lines.push(`${c.yellow('no qm daemon runs for this manifest')}: states are from its records${alive > 0 ? `; ${alive} process(es) still run, and qm start adopts them` : ''}`)
  }
  return lines.join('\n')
}

export async function showEndpoints(manifest: Manifest, options: {host?: string; allHosts: boolean}, io: CommandIo): Promise<Outcome<EndpointListing>> {
  const [{listEndpoints}, {renderTable}] = await Promise.all([import('../registry/endpoints.js'), import('../ui/table.js')])
  const listing = await listEndpoints(manifest, options.host, options.allHosts)
  if (!io.json) {
    const c = colourFor(process.stdout)
    const rows = listing.endpoints.map((e) => [String(e.port), e.name, e.active ? c.green('ACTIVE') : c.dim('INACTIVE'), e.host, e.protocol])
    if (rows.length > 0) io.out(renderTable(['PORT', 'NAME', 'STATUS', 'HOST', 'PROTOCOL'], rows))
    const [first, last] = listing.portRange
    const size = last - first + 1
    if (listing.hosts === undefined) io.out(`${listing.endpoints.length} registered, ${listing.free} of ${size} ports free in ${first}-${last} on ${listing.host}`)
    else if (listing.hosts.length === 0) io.out(`0 registered on any host; ${size} ports free in ${first}-${last} on each`)
    else for (const usage of listing.hosts) io.out(`${usage.registered} registered, ${usage.free} of ${size} ports free in ${first}-${last} on ${usage.host}`)
  }
  return {result: listing, exitCode: ExitCode.ok}
}

export interface LogsOptions {
  names: string[]
  tail: number
  since?: string
  timestamps: boolean
}

/** The last lines of each named service, merged in time order; returns the printer `qm logs -f` goes on with. */
export async function showRecentLogs(manifest: Manifest, options: LogsOptions, io: Pick<CommandIo, 'out'>) {
  const [{expandInstances, selectInstances}, {logPath}, {recentLines}, {prefixedOutput}, {sinceTime}] = await Promise.all([
    import('../manifest/instances.js'),
    import('../supervisor/log-files.js'),
    import('../supervisor/log-view.js'),
    import('../ui/prefixed-output.js'),
    import('./since.js'),
  ])
  const instances = selectInstances(manifest, expandInstances(manifest.services), options.names)
  const sources = instances.map((instance) => ({name: instance.name, path: logPath(manifest.stateDir, instance.name)}))
  const sinceIso = options.since === undefined ? undefined : sinceTime(options.since)
  const c = colourFor(process.stdout)
  const prefixed = prefixedOutput(c, sources.map((s) => s.name), io.out)
  const bare = sources.length === 1 && options.names.length === 1
  const print = (line: ServiceLogLine) => {
    const text = options.timestamps ? `${c.dim(line.at ?? '-')} ${line.text}` : line.text
    if (bare) io.out(text)
    else prefixed.logLine(line.name, text)
  }
  for (const line of recentLines(sources, {count: options.tail, ...(sinceIso ? {sinceIso} : {})})) print(line)
  return {sources, print}
}
