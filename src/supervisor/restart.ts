// What follows a failure: the restart policy (restart-policy.ts, pure) applied to the
// record: at once, after a growing delay on the injected clock, or fatal; and the exit of
// a process that was serving.
import {launch} from './launch.js'
import {nextRestart, policyRestarts} from './restart-policy.js'
import {describeExit, type RunningProcess, type ServiceRecord} from './service-record.js'
import type {ExitInfo} from './spawn.js'

/** After a failure (counted already): restart at once, later, or give up as fatal. */
export function retry(r: ServiceRecord, reason: string): void {
  const decision = nextRestart(r.failuresInRow, r.service.backoff)
  const again = () => {
    r.restarts++
    r.tally.restarted('crash')
    void launch(r, `restart ${r.restarts} after ${r.failuresInRow} failure(s) in a row`)
  }
  if (!decision.restart) {
    if (r.state === 'starting') r.moveTo('backoff', reason)
    r.moveTo('fatal', `${r.failuresInRow} failures in a row; start it again with qm start ${r.name}`)
    void r.setActive(false)
    return
  }
  // exited → starting is a move of its own; a failed start passes through backoff.
  if (decision.delayMs === 0 && r.state === 'exited') {
    again()
    return
  }
  if (r.state !== 'backoff') r.moveTo('backoff', reason)
  if (decision.delayMs === 0) {
    again()
    return
  }
  r.clock.after(r.scope.signal, decision.delayMs, again)
}

/** Sees the process end; while starting the readiness race sees it, while stopping the stop does. */
export function watchExit(r: ServiceRecord, running: RunningProcess): void {
  void running.exited.then((exitInfo) => {
    running.exitInfo = exitInfo
    running.watch.abort()
    if (r.process !== running || r.released || r.handingOver) return
    if (r.state === 'running' || r.state === 'unhealthy') onExit(r, exitInfo, running.pid)
  })
}

function onExit(r: ServiceRecord, exitInfo: ExitInfo, pid: number): void {
  r.lastExit = exitInfo
  r.process = undefined
  r.moveTo('exited', describeExit(exitInfo), pid)
  void r.setActive(false)
  if (!policyRestarts(r.service.restart, exitInfo.code)) {
    r.save()
    return
  }
  r.failuresInRow++
  retry(r, describeExit(exitInfo))
}
