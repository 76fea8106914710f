// Failed probes in a row of one service, kept in a small file beside the manifest
// (.qm/health/NAME.failures) so that separate `qm health` runs, such as those of an
// exported systemd timer, can restart a service after failure_threshold of them.
import {mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export function failureStreakFile(stateDir: string, name: string): string {
  return join(stateDir, 'health', `${name}.failures`)
}

/** A SERVING probe ends the streak; a failed one adds to it. Returns the failures in a row now. */
export function recordProbe(file: string, serving: boolean): number {
  if (serving) {
    rmSync(file, {force: true})
    return 0
  }
  const count = readCount(file) + 1
  writeCount(file, count)
  return count
}

/** Starts the count again, once the streak has been acted on (the service is being restarted). */
export function clearStreak(file: string): void {
  rmSync(file, {force: true})
}

function readCount(file: string): number {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
  const count = Number(text.trim())
  // A file qm did not write (or a torn one from a crash) counts as no failures so far.
  return Number.isInteger(count) && count > 0 ? count : 0
}

function writeCount(file: string, count: number): void {
  mkdirSync(join(file, '..'), {recursive: true})
  // Written whole and renamed into place, so a reader never sees half a number.
  const partial = `${file}.${process.pid}`
  writeFileSync(partial, `${count}\n`)
  renameSync(partial, file)
}
