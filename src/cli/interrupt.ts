// Ctrl-C while a command waits on the daemon. The daemon goes on with what it was asked
// (a start it began, it finishes), so the command ends its progress lines, says what it
// leaves behind and how to undo it, and exits 130 as shells expect of SIGINT.
import {Interrupted} from '../errors.js'
import type {PlannedProgress} from '../ui/progress.js'

export async function untilDoneOrInterrupted<T>(work: Promise<T>, progress: PlannedProgress, verb: 'start' | 'stop' | 'restart'): Promise<T> {
  let onSignal: (() => void) | undefined
  const interrupted = new Promise<never>((_resolve, reject) => {
    onSignal = () => {
      void progress.interrupt().then((left) => reject(interruption(left, verb)), reject)
    }
    // on, not once: listr2's renderer hides the cursor through signal-exit, which re-raises
    // SIGINT when it finds itself the only listener left, and a once-listener is removed
    // before it runs.
    process.on('SIGINT', onSignal)
  })
  try {
    return await Promise.race([work, interrupted])
  } finally {
    process.off('SIGINT', onSignal!)
  }
}

function interruption(left: {name: string; state: string | undefined}[] | undefined, verb: 'start' | 'stop' | 'restart'): Interrupted {
  if (left === undefined) return new Interrupted(`interrupted before the daemon said what the ${verb} touches`, `the daemon goes on with the ${verb} if it received it; qm status shows where it stands`)
  if (left.length === 0) return new Interrupted(`interrupted: the ${verb} was done already`)
  const names = left.map((l) => l.name).join(' ')
  const what = left.map((l) => `${l.name} is ${l.state ? `still ${l.state}` : `not ${verb === 'stop' ? 'stopped' : 'started'} yet`}`).join(', ')
  const hint =
    verb === 'stop'
      ? `the daemon finishes the stop; qm status ${names} shows when it is done`
      : `the daemon goes on with it; qm stop ${names} stops it, qm status ${names} shows how it goes`
  return new Interrupted(`interrupted: ${what} in the daemon`, hint)
}
