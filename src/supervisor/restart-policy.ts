// When to restart a service that ended or failed to start: pure functions of the
// failure count and the manifest's policy, so the numbers are tested as numbers.
import type {BackoffSettings, RestartPolicy} from '../manifest/types.js'

export type RestartDecision = {restart: false} | {restart: true; delayMs: number} | {fatal: true; restart: false}

/** Whether the policy restarts a process that exited with this code (null: killed by a signal). */
export function policyRestarts(policy: RestartPolicy, exitCode: number | null): boolean {
  if (policy === 'always') return true
  if (policy === 'never') return false
  return exitCode !== 0
}

/**
 * failuresInRow counts this failure too. The first restart is immediate, then the
 * delay grows by `factor` from `initialMs` to `maxMs`; past maxFailures the service is fatal.
 */
export function nextRestart(failuresInRow: number, backoff: BackoffSettings): RestartDecision {
  if (failuresInRow > backoff.maxFailures) return {fatal: true, restart: false}
  if (failuresInRow <= 1) return {restart: true, delayMs: 0}
  const delayMs = backoff.initialMs * backoff.factor ** (failuresInRow - 2)
  return {restart: true, delayMs: Math.min(backoff.maxMs, Math.round(delayMs))}
}
