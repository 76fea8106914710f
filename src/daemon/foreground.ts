// `qm up`: the daemon in this process, with every service's log lines and state changes
// handed to the caller as they come, until a signal asks for a graceful stop.
import type {Manifest} from '../manifest/types.js'
import {expandInstances} from '../manifest/instances.js'
import {LogFollower, logPath, parseLogLine} from '../supervisor/log-files.js'
import type {AttemptResult, Transition} from '../supervisor/states.js'
import {Daemon} from './daemon.js'

export interface ForegroundOutput {
  logLine: (name: string, line: string) => void
  transition: (transition: Transition) => void
  startResults: (results: AttemptResult[]) => void
  note: (text: string) => void
}

export async function runInForeground(manifest: Manifest, names: string[], output: ForegroundOutput, untilSignal: () => Promise<void>): Promise<void> {
  const daemon = await Daemon.open({manifest, log: () => undefined, onTransition: output.transition})
  const followers = expandInstances(manifest.services).map((instance) => {
    const follower = new LogFollower(logPath(manifest.stateDir, instance.name), (line) => output.logLine(instance.name, parseLogLine(line).text), {fromEnd: true})
    follower.start(50)
    return follower
  })
  const stopped = untilSignal()
  let signalled = false
  void stopped.then(() => {
    signalled = true
  })
  try {
    // A start cut short by the signal may still reject as the daemon closes under it.
    const starting = daemon
      .call('start', {names})
      .then((reply) => reply.results)
      .catch((error: unknown) => {
        output.note(`start ended early: ${(error as Error).message}`)
        return []
      })
    const results = await Promise.race([starting, stopped.then(() => [])])
    if (!signalled) output.startResults(results)
    await Promise.race([stopped, daemon.whenClosed()])
    output.note('stopping every service')
  } finally {
    await daemon.close({stopServices: true})
    for (const follower of followers) follower.stop()
  }
}
