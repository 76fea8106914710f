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

/**
 * `leaderExited`, when the leader is qm's own child, resolves when it has been reaped: the
 * group is looked at again at once rather than at the next poll (most groups are the
 * leader alone).
 */
export async function stopGroup(pgid: number, stopTimeoutMs: number, {pollMs = 10, leaderExited}: {pollMs?: number; leaderExited?: Promise<unknown>} = {}): Promise<StopOutcome> {
  const started = performance.now()
  if (!signalGroup(pgid, 'SIGTERM')) return {killed: false, elapsedMs: 0}
  signalGroup(pgid, 'SIGCONT')
  if (await waitUntil(() => !groupAlive(pgid), stopTimeoutMs, pollMs, leaderExited)) {
    return {killed: false, elapsedMs: performance.now() - started}
  }
  signalGroup(pgid, 'SIGKILL')
  await waitUntil(() => !groupAlive(pgid), 5000, pollMs, leaderExited)
  return {killed: true, elapsedMs: performance.now() - started}
}

/** Checks every pollMs, and at once when `wake` settles, until the check holds or timeoutMs has passed. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, pollMs: number, wake?: Promise<unknown>): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  let wakeSettled = false
  const woken = wake?.then(
    () => (wakeSettled = true),
    () => (wakeSettled = true),
  )
  for (;;) {
    if (await check()) return true
    if (performance.now() >= deadline) return false
    let timer: NodeJS.Timeout | undefined
    const pause = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - performance.now())))))
    await (woken && !wakeSettled ? Promise.race([pause, woken]) : pause)
    clearTimeout(timer)
  }
}
