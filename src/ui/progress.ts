// Progress while start, stop or restart waits on the daemon: on a terminal, one listr2
// line per service that updates in place; elsewhere (pipes, CI, --json) plain lines,
// one per state change, that read well in a log.
import type {ChalkInstance} from 'chalk'
import type {Transition} from '../supervisor/service-runner.js'
import type {ServiceState} from '../supervisor/states.js'
import {transitionLine} from './transition-line.js'

export interface Progress {
  transition: (transition: Transition) => void
  /** Ends every line still open: ok ones as done, the others as failed with their reason. */
  finish: (results: readonly {name: string; ok: boolean; reason?: string}[]) => Promise<void>
}

export interface ProgressOptions {
  names: readonly string[]
  /** The state that ends a service's line with success. */
  doneWhen: ServiceState
  colour: ChalkInstance
  interactive: boolean
  write: (line: string) => void
}

export async function openProgress(options: ProgressOptions): Promise<Progress> {
  if (!options.interactive || options.names.length === 0) {
    return {transition: (t) => options.write(transitionLine(options.colour, t)), finish: async () => undefined}
  }
  const {Listr} = await import('listr2')
  type Line = {setOutput: (text: string) => void; resolve: () => void; reject: (error: Error) => void}
  const lines = new Map<string, Line>()
  const list = new Listr(
    options.names.map((name) => ({
      title: name,
      task: (_context: unknown, task: {output: string}) =>
        new Promise<void>((resolve, reject) => {
          lines.set(name, {setOutput: (text) => (task.output = text), resolve, reject})
        }),
    })),
    {concurrent: true, exitOnError: false, rendererOptions: {collapseErrors: false}},
  )
  // A failed line is reported by the command with the service's log lines; listr2's own rejection adds nothing.
  const running = list.run().then(
    () => undefined,
    () => undefined,
  )
  return {
    transition: (t) => {
      const line = lines.get(t.name)
      if (!line) return
      line.setOutput(`${t.to}: ${t.cause}`)
      if (t.to === options.doneWhen) line.resolve()
    },
    finish: async (results) => {
      for (const result of results) {
        const line = lines.get(result.name)
        if (!line) continue
        if (result.ok) line.resolve()
        else line.reject(new Error(result.reason ?? 'failed'))
      }
      for (const line of lines.values()) line.resolve()
      await running
    },
  }
}
