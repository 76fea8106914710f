// How a rollout reads: one line per step as it happens (the same on a terminal and in a
// log: a rollout is a sequence, not a set of lines to redraw), then one account per
// instance, with the new process's last log lines when it was not put in.
import type {ChalkInstance} from 'chalk'
import type {RolloutPhase, RolloutResult, RolloutStep} from '../supervisor/states.js'

const FAILED: ReadonlySet<RolloutStep> = new Set(['refused', 'rolled-back'])
const STEP_WIDTH = 11

export function rolloutStepLine(c: ChalkInstance, phase: RolloutPhase): string {
  const step = phase.step.padEnd(STEP_WIDTH)
  return `${c.bold(phase.name)}  ${FAILED.has(phase.step) ? c.red(step) : phase.step === 'old-stopped' ? c.green(step) : c.cyan(step)} ${c.dim(phase.detail)}`
}

export function rolloutAccounts(c: {out: ChalkInstance; err: ChalkInstance}, results: readonly RolloutResult[]): {stdout: string[]; stderr: string[]} {
  const stdout: string[] = []
  const stderr: string[] = []
  for (const result of results) {
    if (result.ok) {
      const where = result.way === 'swap' ? `port ${result.fromPort} → ${result.toPort}` : result.way === 'in-place' ? `restarted in place on port ${result.toPort}` : `started on port ${result.toPort}`
      stdout.push(`${c.out.green('✓')} ${result.name} rolled out: ${where} (pid ${result.pid})`)
      continue
    }
    const lines = [`${c.err.red('✗')} ${result.name}: ${result.reason ?? 'not rolled out'}`]
    if (result.hint) lines.push(`  ${c.err.dim('hint')}  ${result.hint}`)
    if (result.logTail && result.logTail.length > 0) {
      lines.push(`  ${c.err.dim(`last ${result.logTail.length} log lines:`)}`)
      for (const line of result.logTail) lines.push(`  ${c.err.dim('|')} ${line}`)
    }
    stderr.push(lines.join('\n'))
  }
  return {stdout, stderr}
}
