// `qm up`: the daemon in this process, with every service's log lines and state changes
// handed to the caller as they come, until a signal asks for a graceful stop.
import type {Manifest} from '../manifest/types.js'
import {expandInstances} from '../manifest/instances.js'
import {logPath} from '../supervisor/log-files.js'
import {followLines} from '../supervisor/log-view.js'
import type {AttemptResult, Transition} from '../supervisor/states.js'
import {Daemon} from './daemon.js'

// A line shows as soon as the kernel tells of its write (followLines); where it cannot tell,
// within this long, as in `qm logs -f`. Each read is one stat() per service: with 40, 20
// reads a second took 1.4 % of a core while nothing happened, 10 took 0.7 %.
const FOLLOW_POLL_MS = 100

export interface ForegroundOutput {
  logLine: (name: string, line: string) => void
  transition: (transition: Transition) => void
  startResults: (results: AttemptResult[]) => void
  note: (text: string) => void
}

export async function runInForeground(manifest: Manifest, names: string[], output: ForegroundOutput, untilSignal: () => Promise<void>): Promise<void> {
  // Watched from before the daemon opens: a signal during the open skips the start.
  const stopped = untilSignal()
  let signalled = false
  void stopped.then(() => {
    signalled = true
  })
  const daemon = await Daemon.open({manifest, log: () => undefined, onTransition: output.transition})
  const sources = expandInstances(manifest.services).map((instance) => ({name: instance.name, path: logPath(manifest.stateDir, instance.name)}))
  let stopFollowing = () => undefined as void
  try {
    stopFollowing = followLines(sources, (line) => output.logLine(line.name, line.text), {
      pollMs: FOLLOW_POLL_MS,
      onError: (name, error) => output.note(`cannot read the log of ${name}: ${error.message}`),
    })
    // A start cut short by the signal may still reject as the daemon closes under it.
    const starting = signalled
      ? Promise.resolve([])
      : daemon
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
    try {
      await daemon.close({stopServices: true})
    } finally {
      stopFollowing()
    }
  }
}
