// The bodies of qm start, stop and restart once they have a way to the daemon: progress
// lines opened by the daemon's plan, Ctrl-C said plainly, then one account per service.
// Their oclif commands run them, and so does the fast path (fast-path.ts: start always,
// stop and restart when a daemon runs), so both print the same.
import type {ContractEvent, Result} from '../control/contract.js'
import type {StartReport} from '../control/qm-client.js'
import {ExitCode} from '../errors.js'
import type {PortSpan} from '../net/port-sysctls.js'
import type {RegistryBacklog} from '../supervisor/registry-writes.js'
import type {AttemptResult, ServiceState} from '../supervisor/states.js'
import {colourFor} from '../ui/colour.js'
import {plannedProgress, type PlannedProgress} from '../ui/progress.js'
import {wrapWords} from '../ui/text-width.js'
import {untilDoneOrInterrupted} from './interrupt.js'
import type {CommandIo, Outcome} from './read-commands.js'

export interface ChangeIo extends CommandIo {
  diag: (text: string) => void
}

/** One call of the daemon, streaming its events; undefined when no daemon runs. */
type DaemonCall<T> = (onEvent: (event: ContractEvent) => void) => Promise<T>

async function withProgress<T>(verb: 'start' | 'stop' | 'restart', doneWhen: ServiceState, call: DaemonCall<T>, io: ChangeIo): Promise<{report: T; progress: PlannedProgress}> {
  const progress = plannedProgress({doneWhen, colour: colourFor(process.stderr), interactive: Boolean(process.stderr.isTTY) && !io.json, write: io.diag})
  const report = await untilDoneOrInterrupted(
    call((event) => {
      if (!io.json) progress.event(event)
    }),
    progress,
    verb,
  )
  return {report, progress}
}

/** Each started service's line, then exit 1 when one is not healthy. */
async function accountFor(results: AttemptResult[], progress: PlannedProgress, io: ChangeIo): Promise<number> {
  const {startAccounts, startedLine} = await import('../ui/service-report.js')
  await progress.finish(results.map((result) => ({...result, ...(result.ok ? {title: startedLine(result)} : {})})))
  if (!io.json) {
    const accounts = startAccounts({out: colourFor(process.stdout), err: colourFor(process.stderr)}, results, progress.live && Boolean(process.stdout.isTTY))
    for (const line of accounts.stdout) io.out(line)
    for (const line of accounts.stderr) io.diag(line)
  }
  return results.some((result) => !result.ok) ? ExitCode.failed : ExitCode.ok
}

export async function showStart(call: DaemonCall<StartReport>, io: ChangeIo): Promise<Outcome<StartReport>> {
  const {report, progress} = await withProgress('start', 'running', call, io)
  const exitCode = await accountFor(report.results, progress, io)
  await sayRegistryBehind(report.registry, io)
  return {result: report, exitCode}
}

/**
 * Once per daemon, from the start that brought it up: the manifest's ports that lie in the
 * kernel's ephemeral range unreserved (qm doctor's reserved-ports check, in one line),
 * wrapped at word boundaries on a terminal, under its first word.
 */
export async function warnUnreservedPorts(report: StartReport, portRange: PortSpan, io: ChangeIo): Promise<void> {
  if (!report.daemonStarted) return
  const {reservedPortsWarning} = await import('../net/port-sysctls.js')
  const warning = reservedPortsWarning(portRange)
  if (warning) io.diag(wrapWords(`${colourFor(process.stderr).yellow('warning')} ${warning}`, process.stderr.isTTY ? process.stderr.columns : Number.POSITIVE_INFINITY, '        ').join('\n'))
}

/** The registry's backlog after a change, on stderr: the results stand, the rows lag. */
async function sayRegistryBehind(backlog: RegistryBacklog | undefined, io: ChangeIo): Promise<void> {
  if (io.json || !backlog || backlog.pendingWrites === 0) return
  const {registryBehindAfterChange} = await import('../ui/service-report.js')
  for (const line of registryBehindAfterChange(colourFor(process.stderr), backlog)) io.diag(line)
}

export async function showRestart(call: DaemonCall<Result<'restart'> | undefined>, io: ChangeIo): Promise<Outcome<Result<'restart'>>> {
  const {report, progress} = await withProgress('restart', 'running', call, io)
  if (!report) {
    await progress.finish([])
    if (!io.json) io.diag('no qm daemon runs for this manifest: use qm start')
    return {result: {results: []}, exitCode: ExitCode.failed}
  }
  const exitCode = await accountFor(report.results, progress, io)
  await sayRegistryBehind(report.registry, io)
  return {result: report, exitCode}
}

export async function showStop(call: DaemonCall<Result<'stop'> | undefined>, io: ChangeIo): Promise<Outcome<Result<'stop'>>> {
  const {report, progress} = await withProgress('stop', 'stopped', call, io)
  await progress.finish((report?.results ?? []).map((result) => ({name: result.name, ok: result.state === 'stopped', title: `${result.name} ${result.state}`})))
  if (!report) {
    if (!io.json) io.diag('no qm daemon runs for this manifest: nothing to stop')
    return {result: {results: []}, exitCode: ExitCode.ok}
  }
  // On a terminal the live lines ended in the same words: one account per service.
  if (!io.json && !(progress.live && process.stdout.isTTY)) for (const result of report.results) io.out(`${result.name} ${result.state}`)
  await sayRegistryBehind(report.registry, io)
  return {result: report, exitCode: ExitCode.ok}
}

/**
 * qm rollout: every step as it happens, then one account per instance; exit 1 when one
 * was not rolled out. With --json, each event and then the result are JSON lines.
 */
export async function showRollout(call: DaemonCall<Result<'rollout'> | undefined>, io: ChangeIo): Promise<Outcome<Result<'rollout'> | undefined>> {
  const {rolloutAccounts, rolloutStepLine} = await import('../ui/rollout-report.js')
  const {transitionLine} = await import('../ui/transition-line.js')
  const err = colourFor(process.stderr)
  const report = await call((event) => {
    if (io.json) io.out(JSON.stringify(event))
    else if (event.type === 'step') io.diag(rolloutStepLine(err, event))
    else if (event.type === 'transition') io.diag(transitionLine(err, event))
  })
  if (!report) {
    if (io.json) io.out(JSON.stringify({type: 'result', results: []}))
    else io.diag('no qm daemon runs for this manifest: nothing serves, so nothing rolls out; qm start starts the services')
    return {result: undefined, exitCode: ExitCode.failed}
  }
  if (io.json) io.out(JSON.stringify({type: 'result', ...report}))
  else {
    const accounts = rolloutAccounts({out: colourFor(process.stdout), err}, report.results)
    for (const line of accounts.stdout) io.out(line)
    for (const line of accounts.stderr) io.diag(line)
  }
  return {result: report, exitCode: report.results.some((result) => !result.ok) ? ExitCode.failed : ExitCode.ok}
}
