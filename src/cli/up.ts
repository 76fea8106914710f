// The body of `qm up`, for its oclif command and for the fast path alike: the supervisor in
// this process, every log line and state change printed as "name | line", every service
// stopped gracefully on SIGINT, SIGTERM or SIGHUP. It runs for as long as the services do,
// so what it loads stays loaded: the fast path runs it without oclif, some 10 to 20 MB less
// resident with 40 services.
import {runInForeground} from '../daemon/foreground.js'
import {expandInstances, selectInstances} from '../manifest/instances.js'
import type {Manifest} from '../manifest/types.js'
import {colourFor} from '../ui/colour.js'
import {prefixedOutput} from '../ui/prefixed-output.js'

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

export async function runUp(manifest: Manifest, names: readonly string[], out: (line: string) => void): Promise<void> {
  const instances = expandInstances(manifest.services)
  // A name the manifest does not have fails here, before any service starts.
  selectInstances(manifest, instances, names)
  // Once the terminal has hung up, writing to it fails (EIO): the services still have to be
  // stopped, so output stops instead of the process.
  let terminalGone = false
  process.stdout.on('error', () => {
    terminalGone = true
  })
  const output = prefixedOutput(
    colourFor(process.stdout),
    instances.map((instance) => instance.name),
    (line) => {
      if (!terminalGone) out(line)
    },
  )
  // The handlers stay until every service has stopped: a second Ctrl-C while they stop must
  // not kill this process by Node's default action, which would leave them running unwatched.
  let stopRequested = false
  let requestStop: () => void = () => undefined
  const stopAsked = new Promise<void>((resolve) => {
    requestStop = resolve
  })
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGHUP') terminalGone = true
    if (stopRequested) {
      output.note(`${signal}: still stopping the services gracefully`)
      return
    }
    stopRequested = true
    requestStop()
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  try {
    await runInForeground(manifest, [...names], output, () => stopAsked)
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal)
  }
}
