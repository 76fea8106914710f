// Stopping a service, in phases: the registry row goes inactive (new lookups stop finding
// it), the drain (drain_delay, ending early when no client connection is left), SIGTERM
// and SIGCONT to its process group, SIGKILL after stop_timeout, and the port confirmed
// closed. A service written to the guide has no SIGTERM handler: SIGTERM ends it at once,
// with whatever Call it was in, so the drain is what keeps those Calls. An operator stop
// during a liveness restart lets that kill finish and then stays stopped.
import {untilNoClients} from '../net/client-connections.js'
import {stopGroup, waitUntil} from './process-group.js'
import type {RunningProcess, ServiceRecord} from './service-record.js'
import type {ExitInfo} from './spawn.js'

export interface StopOptions {
  /** The wait for client connections to end; the service's drain_delay when absent, 0 for --now. */
  drainMs?: number
}

// Reading the socket table costs a few ms: 20 times a second ends a drain promptly.
export const DRAIN_POLL_MS = 50
// A client that looked the row up just before it went inactive may not have connected yet;
// this long with no client at all, and none is on its way.
export const DRAIN_QUIET_MS = 300

/** Operator stop: the row inactive, the drain, SIGTERM to the group, SIGKILL after stop_timeout, port confirmed closed. */
export function stop(r: ServiceRecord, cause: string, options: StopOptions = {}): Promise<void> {
  if (r.stopping) return r.stopping
  if (r.state === 'stopping' && r.killing) {
    // A liveness restart is killing the process: let it finish, then stay stopped.
    const killing = r.killing
    r.stopping = (async () => {
      await killing
      if (r.state === 'stopping') {
        r.moveTo('stopped', cause)
        await r.setActive(false)
      }
    })().finally(() => {
      r.stopping = undefined
    })
    return r.stopping
  }
  switch (r.state) {
    case 'stopped':
      return Promise.resolve()
    case 'backoff':
    case 'exited':
    case 'fatal':
      r.moveTo('stopped', cause)
      return r.setActive(false)
    default:
      r.stopping = (async () => {
        const serving = r.state === 'running' || r.state === 'unhealthy'
        const drainMs = serving ? (options.drainMs ?? r.service.drainDelayMs) : 0
        // The state moves before the first wait: from here an exit or a probe is the stop's.
        if (drainMs > 0) {
          r.drainEndsAtMs = r.clock.nowMs() + drainMs
          r.moveTo('draining', `${cause}; the row is inactive, waiting up to ${drainMs} ms for clients to finish`)
          await r.setActive(false)
          await drain(r, drainMs)
        } else {
          r.moveTo('stopping', cause)
          if (serving) await r.setActive(false)
        }
        if (r.state === 'draining') r.moveTo('stopping', cause)
        r.settleAttempt({...r.result(false), reason: 'stopped before it became healthy'})
        await killProcess(r)
        r.moveTo('stopped', cause)
        if (!serving) await r.setActive(false)
      })().finally(() => {
        r.drainEndsAtMs = undefined
        r.stopping = undefined
      })
      return r.stopping
  }
}

/** Ends the process group (SIGTERM, SIGCONT, SIGKILL after the deadline) and waits for its port to close. */
export async function killProcess(r: ServiceRecord, stopTimeoutMs = r.service.stopTimeoutMs): Promise<void> {
  const running = r.process
  if (!running) return
  const exit = await endProcess(r, running, r.port, stopTimeoutMs)
  if (exit) r.lastExit = exit
  if (r.process === running) r.process = undefined
}

/**
 * Ends one process of the service, which need not be its current one (a rollout's old
 * process), and waits for `port` to close. Returns how it ended, unknown for an adopted one.
 */
export async function endProcess(r: ServiceRecord, running: RunningProcess, port: number | undefined, stopTimeoutMs: number): Promise<ExitInfo | undefined> {
  await stopGroup(running.pid, stopTimeoutMs, running.adopted ? {} : {leaderExited: running.exited})
  const exit = running.adopted ? undefined : await running.exited
  running.watch.abort()
  if (port !== undefined) {
    const goneAtMs = performance.now()
    // With the whole group gone the kernel has closed its sockets; a listener that is still
    // there belongs to a process outside the group that inherited it, and gets 2 s.
    await waitUntil(async () => !(await r.context.listeners.portsSince(goneAtMs)).has(port), 2000, 25)
    r.context.channels.drop(r.target(port))
  }
  return exit
}

/** Waits until no client but qm has held a connection to the service's port for DRAIN_QUIET_MS, or drainMs has passed. */
export async function drain(r: ServiceRecord, drainMs: number): Promise<void> {
  if (r.port === undefined) return
  await untilNoClients(r.port, {deadline: performance.now() + drainMs, quietMs: Math.min(DRAIN_QUIET_MS, drainMs), pollMs: DRAIN_POLL_MS})
}
