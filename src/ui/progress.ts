// Progress while start, stop or restart waits on the daemon: on a terminal, one listr2
// line per service that updates in place; elsewhere (pipes, CI, --json) plain lines,
// one per state change, that read well in a log. Either way it knows which services have
// not reached their end yet, for what Ctrl-C leaves behind.
import type {ChalkInstance} from 'chalk'
import type {ContractEvent} from '../control/contract.js'
import type {ServiceState, Transition} from '../supervisor/states.js'
import {transitionLine} from './transition-line.js'

export interface Progress {
  /** Whether lines update in place on a terminal, each ending, at finish, as the service's one account. */
  live: boolean
  transition: (transition: Transition) => void
  /** Ends every line still open: ok ones as done (with `title` as their last words), the others as failed with their reason. */
  finish: (results: readonly {name: string; ok: boolean; reason?: string; title?: string}[]) => Promise<void>
  /** Ends every open line as interrupted; returns the services not yet done, with their last state. */
  interrupt: () => Promise<{name: string; state: ServiceState | undefined}[]>
}

export interface ProgressOptions {
  names: readonly string[]
  /** The state that ends a service's line with success. */
  doneWhen: ServiceState
  colour: ChalkInstance
  interactive: boolean
  write: (line: string) => void
  /** What each service waits for before it starts (its depends_on), shown until it moves. */
  waitingFor?: ReadonlyMap<string, readonly string[]>
}

type Outcome = {ok: true; title?: string} | {ok: false; reason: string}

export async function openProgress(options: ProgressOptions): Promise<Progress> {
  const lastState = new Map<string, ServiceState>()
  const open = () => options.names.filter((name) => lastState.get(name) !== options.doneWhen)
  if (!options.interactive || options.names.length === 0) {
    return {
      live: false,
      transition: (t) => {
        lastState.set(t.name, t.to)
        options.write(transitionLine(options.colour, t))
      },
      finish: async () => undefined,
      interrupt: async () => open().map((name) => ({name, state: lastState.get(name)})),
    }
  }
  const {Listr} = await import('listr2')
  type Line = {setOutput: (text: string) => void; settle: (outcome: Outcome) => void}
  type Task = {output: string; title: string}
  const lines = new Map<string, Line>()
  // An outcome can come before listr2 has started the task that shows it (a daemon that
  // answers at once): it waits here, and the task settles as soon as it starts.
  const early = new Map<string, Outcome>()
  const settle = (name: string, outcome: Outcome) => {
    const line = lines.get(name)
    if (line) line.settle(outcome)
    else if (!early.has(name)) early.set(name, outcome)
  }
  const list = new Listr(
    options.names.map((name) => ({
      title: name,
      task: (_context: unknown, task: Task) =>
        new Promise<void>((resolve, reject) => {
          let ended = false
          const settleLine = (o: Outcome) => {
            if (ended) return
            ended = true
            if (!o.ok) return reject(new Error(o.reason))
            if (o.title) task.title = o.title
            resolve()
          }
          const line: Line = {setOutput: (text) => (task.output = text), settle: settleLine}
          lines.set(name, line)
          const waiting = options.waitingFor?.get(name)
          if (waiting && waiting.length > 0 && !lastState.has(name)) task.output = `waiting for ${waiting.join(', ')}`
          const outcome = early.get(name)
          if (outcome) line.settle(outcome)
        }),
    })),
    // Ctrl-C is the command's to handle: listr2's own handler exits 127 mid-render.
    {concurrent: true, exitOnError: false, registerSignalListeners: false, rendererOptions: {collapseErrors: false}},
  )
  // A failed line is reported by the command with the service's log lines; listr2's own rejection adds nothing.
  const running = list.run().then(
    () => undefined,
    () => undefined,
  )
  return {
    live: true,
    transition: (t) => {
      lastState.set(t.name, t.to)
      // A line ends once, with its account (finish): a title set on a line listr2 has
      // already ended draws the whole list a second time.
      lines.get(t.name)?.setOutput(`${t.to}: ${t.cause}`)
    },
    finish: async (results) => {
      for (const result of results) settle(result.name, result.ok ? {ok: true, ...(result.title ? {title: result.title} : {})} : {ok: false, reason: result.reason ?? 'failed'})
      for (const name of options.names) settle(name, {ok: true})
      await running
    },
    interrupt: async () => {
      const left = open().map((name) => ({name, state: lastState.get(name)}))
      for (const {name, state} of left) settle(name, {ok: false, reason: `interrupted${state ? ` while ${state}` : ''}`})
      for (const name of options.names) settle(name, {ok: true})
      await running
      return left
    },
  }
}

/** Progress opened by the daemon's plan, the first event of its start, stop or restart. */
export interface PlannedProgress {
  /** Whether lines update in place on a terminal; known once the plan has come. */
  readonly live: boolean
  event: (event: ContractEvent) => void
  finish: Progress['finish']
  /** As Progress's, or undefined when Ctrl-C came before the plan: nothing known to leave behind. */
  interrupt: () => Promise<{name: string; state: ServiceState | undefined}[] | undefined>
}

/**
 * The daemon knows what a start, stop or restart touches (it holds the manifest and the
 * dependency order) and says so first; the lines open then. State changes before the plan
 * (a start's reload restarting an edited service) are written as plain lines.
 */
export function plannedProgress(options: Omit<ProgressOptions, 'names' | 'waitingFor'>): PlannedProgress {
  let opened: Promise<Progress> | undefined
  let live = false
  return {
    get live() {
      return live
    },
    event: (event) => {
      if (event.type === 'plan') {
        opened = openProgress({...options, names: event.instances, waitingFor: new Map(Object.entries(event.waitingFor))}).then((progress) => {
          live = progress.live
          return progress
        })
        return
      }
      if (event.type !== 'transition') return
      const {type: _type, ...transition} = event
      if (opened) void opened.then((progress) => progress.transition(transition))
      else options.write(transitionLine(options.colour, transition))
    },
    finish: async (results) => {
      if (opened) await (await opened).finish(results)
    },
    interrupt: async () => (opened ? (await opened).interrupt() : undefined),
  }
}
