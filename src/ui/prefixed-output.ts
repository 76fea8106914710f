// `name | line` output for `qm up`, each service in a colour of its own, as docker
// compose and process-compose print it.
import type {ChalkInstance} from 'chalk'
import type {AttemptResult, Transition} from '../supervisor/states.js'
import {renderFailure} from './service-report.js'
import {transitionLine} from './transition-line.js'

const PALETTE = ['cyan', 'magenta', 'blue', 'yellow', 'green', 'red'] as const

export function prefixedOutput(c: ChalkInstance, names: readonly string[], write: (line: string) => void) {
  const width = Math.max(2, ...names.map((name) => name.length))
  const colourOf = new Map(names.map((name, i) => [name, PALETTE[i % PALETTE.length]!]))
  const prefix = (name: string) => c[colourOf.get(name) ?? 'white'](`${name.padEnd(width)} |`)
  return {
    logLine: (name: string, line: string) => write(`${prefix(name)} ${line}`),
    transition: (transition: Transition) => write(`${prefix(transition.name)} ${c.dim('qm:')} ${transitionLine(c, transition)}`),
    startResults: (results: AttemptResult[]) => {
      for (const result of results) if (!result.ok) write(renderFailure(c, result))
    },
    note: (text: string) => write(c.dim(`qm: ${text}`)),
  }
}
