// The unit files of `qm export systemd`, built from the resolved manifest alone (pure):
// per instance a service running exactly qm's argv with readiness, registry state and
// restart policy mapped onto systemd, plus a liveness timer and its probe service; one
// restart template and one target for the project.
import type {Manifest, ServiceSpec} from '../manifest/types.js'
import {instanceNames, serviceArgv} from '../manifest/instances.js'
import {headerLines} from './output.js'
import {escapeSpecifiers, execLine, quoteEnvironmentItem} from './systemd-syntax.js'
import {cpuCores, durationText as systemdDuration, memoryBytes} from './units.js'

/** RestartSteps= and RestartMaxDelaySec= arrived in systemd 254. */
export const RESTART_STEPS_SINCE = 254

/** Room for qm's own start-up (node, the manifest, the registry) around the waits it is given. */
const QM_RUN_MARGIN_MS = 10_000

export interface SystemdPlan {
  manifest: Manifest
  /** The exported services, in manifest order, dependencies included. */
  services: readonly ServiceSpec[]
  /** Registry port of every instance name. */
  ports: ReadonlyMap<string, number>
  /** Absolute executable of every service, as qm's preflight resolves it. */
  executables: ReadonlyMap<string, string>
  /** How to run qm itself: [node, /abs/bin/run.js]. */
  qm: readonly string[]
  project: string
  /** User units (systemctl --user) instead of system units. */
  user: boolean
  systemdVersion?: number
  systemctl: string
  /** User= of system units; undefined runs them as root. */
  runAs?: string
}

export interface UnitFile {
  name: string
  text: string
}

export function targetName(project: string): string {
  return `qm-${project}.target`
}

export function serviceUnitName(instance: string): string {
  return `qm-${instance}.service`
}

/** The names buildSystemdUnits gives its files, in the same order, known before any port is. */
export function unitFileNames(project: string, services: readonly ServiceSpec[]): string[] {
  const perInstance = services.flatMap((service) => instanceNames(service).flatMap((instance) => [serviceUnitName(instance), healthTimerName(instance), `qm-${instance}-health.service`]))
  return [...perInstance, restartTemplateName(project), targetName(project)]
}

export function buildSystemdUnits(plan: SystemdPlan): UnitFile[] {
  const units: UnitFile[] = []
  for (const service of plan.services) {
    instanceNames(service).forEach((instance, index) => {
      units.push(
        {name: serviceUnitName(instance), text: serviceUnit(plan, service, instance, index + 1)},
        {name: healthTimerName(instance), text: healthTimer(plan, service, instance)},
        {name: `qm-${instance}-health.service`, text: healthService(plan, service, instance)},
      )
    })
  }
  units.push({name: restartTemplateName(plan.project), text: restartTemplate(plan)}, {name: targetName(plan.project), text: target(plan)})
  return units
}

function healthTimerName(instance: string): string {
  return `qm-${instance}-health.timer`
}

function systemctlArgv(plan: SystemdPlan): string[] {
  return plan.user ? [plan.systemctl, '--user'] : [plan.systemctl]
}

function restartTemplateName(project: string): string {
  return `qm-${project}-restart@.service`
}

function qmLine(plan: SystemdPlan, args: string[], prefix = ''): string {
  return execLine([...plan.qm, ...args, '-f', plan.manifest.file], prefix)
}

function serviceUnit(plan: SystemdPlan, service: ServiceSpec, instance: string, index: number): string {
  const port = plan.ports.get(instance)!
  const executable = plan.executables.get(service.name)!
  const argv = [executable, ...serviceArgv(service, port).slice(1)]
  const dependencies = plan.services
    .filter((other) => service.dependsOn.includes(other.name))
    .flatMap((other) => instanceNames(other).map(serviceUnitName))
  const of = service.instances > 1 ? ` (instance ${index} of ${service.name})` : ''
  const unit = [
    `Description=${escapeSpecifiers(`qm service ${instance}${of} from ${plan.manifest.file}`)}`,
    `PartOf=${targetName(plan.project)}`,
    ...(plan.user ? [] : ['After=network.target']),
    ...(dependencies.length > 0 ? [`# depends_on: started once these are healthy, stopped after them.`, `Requires=${dependencies.join(' ')}`, `After=${dependencies.join(' ')}`] : []),
    ...startLimit(plan, service),
  ]
  const register = (state: '--active' | '--inactive', prefix = '') => qmLine(plan, ['register', instance, '--port', String(port), state], prefix)
  const lines = [
    // exec: the unit is started once the executable runs; readiness comes from ExecStartPost.
    'Type=exec',
    `WorkingDirectory=${escapeSpecifiers(service.cwd)}`,
    ...Object.entries(service.env).map(([name, value]) => `Environment=${quoteEnvironmentItem(name, value)}`),
    `# The registry row: kept on port ${port}, active while the service is up and healthy.`,
    `ExecStartPre=${register('--inactive')}`,
    `ExecStart=${execLine(argv)}`,
    `ExecStartPost=${qmLine(plan, ['health', instance, '--wait', systemdDuration(service.health.startTimeoutMs)])}`,
    `ExecStartPost=${register('--active')}`,
    // Not Wants= the timer: on "failed -> auto-restart" systemd starts a unit's Wants= again,
    // the timer's BindsTo= then queues a start of this service that runs the start-limit test
    // at once, and the restart itself runs it again, so StartLimitBurst= ran out at half the
    // failures (seen under systemd 252). Started from here, the timer's BindsTo= start merges
    // into this start job, which counts once; and probes begin only once the service is ready.
    `# Liveness probes from now on; not Wants=, which would count each failure twice against StartLimitBurst=.`,
    `ExecStartPost=${execLine([...systemctlArgv(plan), 'start', '--no-block', healthTimerName(instance)])}`,
    `ExecStopPost=${register('--inactive', '-')}`,
    `TimeoutStartSec=${systemdDuration(service.health.startTimeoutMs + QM_RUN_MARGIN_MS)}`,
    ...restartLines(plan, service),
    `TimeoutStopSec=${systemdDuration(service.stopTimeoutMs)}`,
    'KillMode=control-group',
    ...resourceLines(service),
    ...(plan.user || plan.runAs === undefined ? [] : [`User=${plan.runAs}`]),
  ]
  return file(plan, [section('Unit', unit), section('Service', lines)])
}

function growingDelays(plan: SystemdPlan): boolean {
  return plan.systemdVersion !== undefined && plan.systemdVersion >= RESTART_STEPS_SINCE
}

function restartLines(plan: SystemdPlan, service: ServiceSpec): string[] {
  const restart = {always: 'always', 'on-failure': 'on-failure', never: 'no'}[service.restart]
  if (service.restart === 'never') return [`Restart=${restart}`]
  const {initialMs, maxMs} = service.backoff
  const steps = restartSteps(service)
  const lines = [`Restart=${restart}`, `RestartSec=${systemdDuration(initialMs)}`]
  if (steps === undefined) return lines
  if (growingDelays(plan)) return [...lines, `RestartSteps=${steps}`, `RestartMaxDelaySec=${systemdDuration(maxMs)}`]
  const host = plan.systemdVersion === undefined ? 'this host\'s version is unknown' : `this host has ${plan.systemdVersion}`
  return [
    ...lines,
    `# backoff grows from ${systemdDuration(initialMs)} to ${systemdDuration(maxMs)} in qm; RestartSteps=${steps} and RestartMaxDelaySec=${systemdDuration(maxMs)} would do that but need systemd ${RESTART_STEPS_SINCE} (${host}), so every restart waits RestartSec.`,
  ]
}

/** Steps from backoff.initial to backoff.max growing by backoff.factor; undefined when the delay never grows. */
export function restartSteps(service: Pick<ServiceSpec, 'backoff'>): number | undefined {
  const {initialMs, maxMs, factor} = service.backoff
  if (factor <= 1 || maxMs <= initialMs || initialMs <= 0) return undefined
  return Math.ceil(Math.log(maxMs / initialMs) / Math.log(factor))
}

/**
 * qm gives up after max_failures failures in a row, a failure being an exit (or a failed
 * start) before reset_after of running. systemd counts starts in a window instead: with
 * StartLimitBurst=max_failures, the start after max_failures failed runs is refused when
 * it falls inside the window, which holds that many runs of at most reset_after (or a
 * failed start: start_timeout plus stop_timeout) and their restart delays.
 */
function startLimit(plan: SystemdPlan, service: ServiceSpec): string[] {
  if (service.restart === 'never') return []
  const {maxFailures, resetAfterMs, initialMs, maxMs, factor} = service.backoff
  const runMs = Math.max(resetAfterMs, service.health.startTimeoutMs + service.stopTimeoutMs)
  // The delays systemd will wait: fixed at RestartSec unless RestartSteps= grows them (close to qm's factor).
  const delayMs = (failure: number) => (growingDelays(plan) && restartSteps(service) !== undefined ? Math.min(maxMs, initialMs * factor ** failure) : initialMs)
  let windowMs = 0
  for (let failure = 0; failure < maxFailures; failure++) windowMs += runMs + delayMs(failure)
  return [
    `# Fatal after ${maxFailures} failures in a row (backoff.max_failures), each within ${systemdDuration(runMs)} of its start.`,
    `StartLimitIntervalSec=${systemdDuration(Math.ceil(windowMs / 1000) * 1000)}`,
    `StartLimitBurst=${maxFailures}`,
  ]
}

function resourceLines(service: ServiceSpec): string[] {
  const limits = service.resources?.limits
  const lines: string[] = []
  // Rounded to a millionth of a percent first, so that 0.1 core is 10%, not 11% by float noise.
  if (limits?.cpu !== undefined) lines.push(`CPUQuota=${Math.max(1, Math.ceil(Math.round(cpuCores(limits.cpu) * 1e8) / 1e6))}%`)
  if (limits?.memory !== undefined) lines.push(`MemoryMax=${memoryBytes(limits.memory)}`)
  return lines
}

function healthTimer(plan: SystemdPlan, service: ServiceSpec, instance: string): string {
  const interval = systemdDuration(service.health.intervalMs)
  return file(plan, [
    section('Unit', [
      `Description=${escapeSpecifiers(`qm liveness probes of ${instance} every ${interval}`)}`,
      // Not Before=timers.target, which is ordered before the services' basic.target: with
      // After= the service below, that would be a cycle. It runs while the service runs: the
      // service starts it once ready (ExecStartPost=), BindsTo= stops it when the service stops or dies.
      'DefaultDependencies=no',
      `BindsTo=${serviceUnitName(instance)}`,
      `After=${serviceUnitName(instance)}`,
    ]),
    section('Timer', [
      `OnActiveSec=${interval}`,
      `OnUnitActiveSec=${interval}`,
      `AccuracySec=${systemdDuration(Math.min(1000, Math.max(1, Math.round(service.health.intervalMs / 10))))}`,
      `Unit=qm-${instance}-health.service`,
    ]),
  ])
}

function healthService(plan: SystemdPlan, service: ServiceSpec, instance: string): string {
  const threshold = service.health.failureThreshold
  return file(plan, [
    section('Unit', [
      `Description=${escapeSpecifiers(`qm liveness probe of ${instance}: a restart after ${threshold} failures in a row`)}`,
      // Requisite: a probe while the service is not up is skipped, not counted (and starts nothing).
      // It also stops a probe in flight when the service stops: see SuccessExitStatus= below.
      `Requisite=${serviceUnitName(instance)}`,
      `After=${serviceUnitName(instance)}`,
      `OnFailure=${restartTemplateName(plan.project).replace('@', `@${instance}`)}`,
      // The timer starts this unit every interval; systemd's default limit (5 starts in 10 s)
      // refused the probe at intervals under 2 s, and that refusal fired OnFailure=, a restart.
      '# Started every interval by the timer: no start limit, whose refusal would fire OnFailure=.',
      'StartLimitIntervalSec=0',
    ]),
    section('Service', [
      'Type=oneshot',
      `WorkingDirectory=${escapeSpecifiers(plan.manifest.dir)}`,
      `# Exits 3 (this unit fails and OnFailure= restarts ${instance}) once ${threshold} probes in a row have failed, counted in ${plan.manifest.stateDir}/health/.`,
      `ExecStart=${qmLine(plan, ['health', instance, '--failures-before-exit', String(threshold)])}`,
      '# qm\'s own errors (1: registry, 2: manifest) go to the journal; they say nothing about the service, so they restart nothing.',
      '# Nor does SIGTERM: it is a stop of the service reaching this probe through Requisite=, and as a failure',
      '# its OnFailure= restart undid `systemctl stop` of the target (seen under systemd 252).',
      'SuccessExitStatus=1 2 SIGTERM',
      `TimeoutStartSec=${systemdDuration(service.health.timeoutMs + QM_RUN_MARGIN_MS)}`,
      ...(plan.user || plan.runAs === undefined ? [] : [`User=${plan.runAs}`]),
    ]),
  ])
}

function restartTemplate(plan: SystemdPlan): string {
  return file(plan, [
    // %i, the instance name, is the one specifier meant to expand here.
    section('Unit', [`Description=Restart qm service %i of ${escapeSpecifiers(plan.manifest.file)} after failed liveness probes`]),
    section('Service', [
      'Type=oneshot',
      '# try-restart: a service that is stopped or stopping stays so, whatever probe verdict arrives late;',
      '# --job-mode=fail: a queued stop of the service (or of what it Requires=) is never replaced by this restart.',
      `ExecStart=${execLine([...systemctlArgv(plan), '--job-mode=fail', 'try-restart'])} qm-%i.service`,
    ]),
  ])
}

function target(plan: SystemdPlan): string {
  const units = plan.services.flatMap((service) => instanceNames(service).map(serviceUnitName))
  return file(plan, [
    section('Unit', [`Description=${escapeSpecifiers(`qm services of ${plan.manifest.file}`)}`, `Wants=${units.join(' ')}`]),
    section('Install', [`WantedBy=${plan.user ? 'default.target' : 'multi-user.target'}`]),
  ])
}

function section(name: string, lines: string[]): string {
  return [`[${name}]`, ...lines].join('\n')
}

function file(plan: SystemdPlan, sections: string[]): string {
  return `${[headerLines('systemd', plan.manifest.file).join('\n'), ...sections].join('\n\n')}\n`
}
