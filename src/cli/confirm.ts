// The y/N question before a command changes what other hosts rely on. Asked only of a person
// at a terminal; off a terminal (a script, CI, a pipe) nobody can answer, so the command
// refuses unless --yes said yes beforehand, as apt-get -y and terraform -auto-approve do.
import {createInterface} from 'node:readline'
import {UsageError} from '../errors.js'

export interface ConfirmIo {
  input: NodeJS.ReadableStream & {isTTY?: boolean}
  /** Where the question goes: stderr, so that stdout stays the result. */
  output: NodeJS.WritableStream
}

/** Throws before any work when the answer could never be given: no --yes and no terminal. */
export function assertCanConfirm(io: ConfirmIo, yes: boolean, what: string, flagsForYes: string): void {
  if (yes || io.input.isTTY) return
  throw new UsageError(`refusing to ${what} without confirmation: standard input is not a terminal`, `add --yes to confirm beforehand: ${flagsForYes} --yes`)
}

/** true only for an answer of y or yes; Enter, anything else or end of input is no (Ctrl-C ends qm, marking nothing). */
export function askYesNo(io: ConfirmIo, question: string): Promise<boolean> {
  const reader = createInterface({input: io.input, output: io.output, terminal: false})
  return new Promise((resolve) => {
    let answered = false
    const finish = (yes: boolean) => {
      if (answered) return
      answered = true
      reader.close()
      resolve(yes)
    }
    io.output.write(`${question} [y/N] `)
    reader.once('line', (line) => finish(/^\s*y(es)?\s*$/i.test(line)))
    reader.once('close', () => finish(false))
  })
}
