// Stopping reaches the whole process group, so a service's children and grandchildren
// go with it: SIGTERM to the group, then SIGCONT (a stopped process acts on no signal but
// SIGKILL until it is continued, as systemd knows), SIGKILL to whatever is left after
// stop_timeout.
import {groupAlive} from './proc.js'

export interface StopOutcome {
  /** Whether SIGKILL was needed. */
  killed: boolean
  elapsedMs: number
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

export async function stopGroup(pgid: number, stopTimeoutMs: number, pollMs = 10): Promise<StopOutcome> {
  const started = performance.now()
  if (!signalGroup(pgid, 'SIGTERM')) return {killed: false, elapsedMs: 0}
  signalGroup(pgid, 'SIGCONT')
  if (await waitUntil(() => !groupAlive(pgid), stopTimeoutMs, pollMs)) {
    return {killed: false, elapsedMs: performance.now() - started}
  }
  signalGroup(pgid, 'SIGKILL')
  await waitUntil(() => !groupAlive(pgid), 5000, pollMs)
  return {killed: true, elapsedMs: performance.now() - started}
}

export async function waitUntil(check: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (check()) return true
    if (performance.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - performance.now()))))
  }
}
