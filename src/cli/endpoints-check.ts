// The body of `qm endpoints --check [--mark-inactive]`: the flag rules, the check, the table,
// and the question before any row is marked. Exit 3 when stale rows were found (marked or
// not), 0 when none: the answer a script or a monitoring job wants.
import {ExitCode, UsageError} from '../errors.js'
import type {FleetCheck} from '../fleet/check.js'
import type {MarkOutcome} from '../fleet/mark.js'
import type {Manifest} from '../manifest/types.js'
import {colourFor} from '../ui/colour.js'
import {askYesNo, assertCanConfirm, type ConfirmIo} from './confirm.js'
import type {CommandIo, Outcome} from './read-commands.js'

export interface EndpointsCheckFlags {
  check: boolean
  markInactive: boolean
  yes: boolean
  host?: string
  allHosts: boolean
  timeoutMs?: number
  certsDir?: string
  serverName?: string
}

export interface EndpointsCheckReport extends FleetCheck {
  /** What --mark-inactive did; null without it, or when the operator said no. */
  mark: MarkOutcome | null
}

const CHECK_ONLY = ['timeout', 'certs', 'server-name'] as const

/** Refuses a combination that cannot mean anything, before the registry is opened. */
export function assertCheckFlags(flags: EndpointsCheckFlags, given: ReadonlySet<string>): void {
  if (flags.markInactive && !flags.check) {
    throw new UsageError('--mark-inactive needs --check: only rows found stale by a probe just now are marked', 'qm endpoints --all-hosts --check --mark-inactive')
  }
  if (flags.yes && !flags.markInactive) throw new UsageError('--yes confirms --mark-inactive, and there is none', 'qm endpoints --all-hosts --check --mark-inactive --yes')
  const stray = CHECK_ONLY.filter((flag) => given.has(flag))
  if (stray.length > 0 && !flags.check) throw new UsageError(`--${stray[0]} applies to --check only`, 'qm endpoints --all-hosts --check')
}

export async function showEndpointsCheck(manifest: Manifest, flags: EndpointsCheckFlags, io: CommandIo & {diag: (text: string) => void}, confirmIo: ConfirmIo): Promise<Outcome<EndpointsCheckReport>> {
  const command = `qm endpoints ${flags.allHosts ? '--all-hosts ' : flags.host === undefined ? '' : `--host ${flags.host} `}--check`
  if (flags.markInactive) assertCanConfirm(confirmIo, flags.yes, 'mark rows inactive', `${command} --mark-inactive`)
  const [{checkFleet}, view] = await Promise.all([import('../fleet/check.js'), import('../ui/fleet-check-view.js')])
  const check = await checkFleet(manifest, {
    allHosts: flags.allHosts,
    timeoutMs: flags.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS,
    cwd: process.cwd(),
    ...(flags.host === undefined ? {} : {host: flags.host}),
    ...(flags.certsDir === undefined ? {} : {certsDir: flags.certsDir}),
    ...(flags.serverName === undefined ? {} : {serverName: flags.serverName}),
  })
  const c = colourFor(process.stdout)
  if (!io.json) io.out(view.renderFleetCheck(c, check))
  const exitCode = check.counts.stale > 0 ? ExitCode.unhealthy : ExitCode.ok
  if (!flags.markInactive || check.counts.stale === 0) {
    const hint = flags.markInactive ? undefined : view.markHint(check, command)
    if (hint !== undefined && !io.json) io.diag(hint)
    return {result: {...check, mark: null}, exitCode}
  }
  const question = `mark ${check.counts.stale} stale row(s) inactive, so the platform stops sending them Calls?`
  if (!flags.yes && !(await askYesNo(confirmIo, question))) {
    io.diag('nothing marked')
    return {result: {...check, mark: null}, exitCode}
  }
  const {markStale} = await import('../fleet/mark.js')
  const mark = await markStale(manifest, check)
  if (!io.json) io.out(view.renderMarkOutcome(c, mark))
  return {result: {...check, mark}, exitCode}
}

// As qm health's: long enough for a TLS handshake across a busy network, short enough that
// a dead host's rows, probed all at once, cost a couple of seconds.
const DEFAULT_CHECK_TIMEOUT_MS = 2000
