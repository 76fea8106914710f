// Colour only for a person at a terminal: never when NO_COLOR is set (no-color.org),
// never into a pipe or a file, and FORCE_COLOR wins over both for screenshots.
import {Chalk, type ChalkInstance} from 'chalk'

export function colourFor(stream: {isTTY?: boolean}, env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return new Chalk({level: 1})
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Chalk({level: 0})
  return new Chalk({level: stream.isTTY ? 1 : 0})
}
