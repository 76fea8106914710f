// The is_active changes a daemon could not write before it stopped (the registry out of
// reach), left in the state folder for the `qm shutdown` that asked: the daemon's reply goes
// before it stops its services, so this is how the command learns which rows still say
// "active" for services that no longer run. The command removes the file before it asks, so
// what it reads is this shutdown's.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import type {UnwrittenChanges} from '../supervisor/registry-writes.js'

export function recordUnwritten(file: string, unwritten: UnwrittenChanges): void {
  if (unwritten.changes.length === 0) rmSync(file, {force: true})
  else writeFileSync(file, `${JSON.stringify(unwritten)}\n`, {mode: 0o600})
}

export function forgetUnwritten(file: string): void {
  rmSync(file, {force: true})
}

/** What the daemon left, or undefined when it wrote everything (or left nothing readable). */
export function readUnwritten(file: string): UnwrittenChanges | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    return JSON.parse(text) as UnwrittenChanges
  } catch {
    // A daemon killed while writing it: nothing trustworthy to report.
    return undefined
  }
}
