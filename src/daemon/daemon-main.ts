// The background daemon's entry point, started detached by `qm start`:
//   node dist/daemon/daemon-main.js /path/to/services.yaml
// A second daemon for the same manifest finds the lock taken and leaves quietly.
import {QmError} from '../errors.js'
import {manifestStamp} from '../manifest/cache.js'
import {loadManifest} from '../manifest/load.js'
import {restoreCommandEnvironment} from '../control/daemon-environment.js'
import {DAEMON_REFUSED} from '../control/paths.js'
import {Daemon, DaemonBusyError} from './daemon.js'
import {utcTimestamp} from '../utc-time.js'

const log = (line: string) => process.stdout.write(`${utcTimestamp(Date.now())} ${line}\n`)

async function main(manifestFile: string): Promise<void> {
  // Before the manifest is read (the cache is keyed on the variables it read) or anything starts.
  restoreCommandEnvironment(process.env)
  // Taken before the file is read: a change while it is read shows at the next start.
  const readStamp = manifestStamp(manifestFile)
  // The copy the starting command cached, when it is of this very file and environment: the
  // YAML parser and the schema validator then never load here (about 3 MB of the daemon's
  // resident memory, measured with 40 services).
  const manifest = await loadManifest({flag: manifestFile, env: process.env, cwd: process.cwd()})
  let daemon: Daemon
  try {
    daemon = await Daemon.open({manifest, log, ...(readStamp === undefined ? {} : {readStamp})})
  } catch (error) {
    if (error instanceof DaemonBusyError) {
      log(`${error.message}; this one exits`)
      return
    }
    throw error
  }
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => void daemon.close({stopServices: signal !== 'SIGHUP'}))
  }
  await daemon.whenClosed()
}

const manifestFile = process.argv[2]
if (!manifestFile) {
  process.stderr.write('usage: daemon-main.js MANIFEST\n')
  process.exit(2)
}
main(manifestFile).then(
  () => process.exit(0),
  (error: unknown) => {
    // A QmError (the registry out of reach, say) is a refusal the CLI that started this
    // daemon reports as its own, so it goes to the log as JSON it reads back.
    if (error instanceof QmError) log(`${DAEMON_REFUSED} ${JSON.stringify(error.toJSON())}`)
    else log(`daemon failed: ${(error as Error).stack ?? String(error)}`)
    process.exit(1)
  },
)
