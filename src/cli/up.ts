// The body of `qm up`, for its oclif command and for the fast path alike: the supervisor in
// this process, every log line and state change printed as "name | line", every service
// stopped gracefully on SIGINT, SIGTERM or SIGHUP. It runs for as long as the services do,
// so what it loads stays loaded: the fast path runs it without oclif, some 10 to 20 MB less
// resident with 40 services.
import {runInForeground} from '../daemon/foreground.js'
import {expandInstances} from '../manifest/instances.js'
import type {Manifest} from '../manifest/types.js'
import {colourFor} from '../ui/colour.js'
import {prefixedOutput} from '../ui/prefixed-output.js'

export async function runUp(manifest: Manifest, names: readonly string[], out: (line: string) => void): Promise<void> {
  const instanceNames = expandInstances(manifest.services).map((instance) => instance.name)
  // Once the terminal has hung up, writing to it fails (EIO): the services still have to be
  // stopped, so output stops instead of the process.
  let terminalGone = false
  process.stdout.on('error', () => {
    terminalGone = true
  })
  const output = prefixedOutput(colourFor(process.stdout), instanceNames, (line) => {
    if (!terminalGone) out(line)
  })
  await runInForeground(manifest, [...names], output, () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
      process.once('SIGHUP', () => {
        terminalGone = true
        resolve()
      })
    }),
  )
}
