// --drain and --now, the same on every command that stops serving processes (stop,
// restart, rollout, shutdown): how long each waits for its clients after its row goes
// inactive, instead of the manifest's drain_delay.
import {Flags} from '@oclif/core'
import {durationFlag} from '../manifest/units.js'

export const drainFlags = {
  drain: Flags.string({description: "wait up to this long (5s, 500ms) for each serving process's clients to finish once its row is inactive, instead of its drain_delay", helpValue: 'DURATION', exclusive: ['now']}),
  now: Flags.boolean({description: 'no drain: SIGTERM as soon as the row is inactive', exclusive: ['drain']}),
}

export function drainOption(flags: {drain?: string | undefined; now?: boolean | undefined}): {drainMs?: number} {
  if (flags.now) return {drainMs: 0}
  return flags.drain === undefined ? {} : {drainMs: durationFlag(flags.drain, '--drain', {zero: true})}
}
