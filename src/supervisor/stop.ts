// Stopping a service: SIGTERM and SIGCONT to its process group, SIGKILL after the deadline,
// and the port confirmed closed. An operator stop during a liveness restart lets that kill
// finish and then stays stopped.
import {stopGroup, waitUntil} from './process-group.js'
import type {ServiceRecord} from './service-record.js'

/** Operator stop: SIGTERM to the group, SIGKILL after stop_timeout, port confirmed closed. */
export function stop(r: ServiceRecord, cause: string): Promise<void> {
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
        r.moveTo('stopping', cause)
        r.settleAttempt({...r.result(false), reason: 'stopped before it became healthy'})
        await killProcess(r)
        r.moveTo('stopped', cause)
        await r.setActive(false)
      })().finally(() => {
        r.stopping = undefined
      })
      return r.stopping
  }
}

/** Ends the process group (SIGTERM, SIGCONT, SIGKILL after the deadline) and waits for its port to close. */
export async function killProcess(r: ServiceRecord, stopTimeoutMs = r.service.stopTimeoutMs): Promise<void> {
  const running = r.process
  if (!running) return
  await stopGroup(running.pid, stopTimeoutMs)
  if (!running.adopted) r.lastExit = await running.exited
  running.watch.abort()
  if (r.process === running) r.process = undefined
  if (r.port !== undefined) {
    const port = r.port
    const goneAtMs = performance.now()
    // With the whole group gone the kernel has closed its sockets; a listener that is still
    // there belongs to a process outside the group that inherited it, and gets 2 s.
    await waitUntil(() => !r.context.listeners.portsSince(goneAtMs).has(port), 2000, 25)
  }
  r.context.channels.drop(r.target(r.port ?? 0))
}
