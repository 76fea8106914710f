// The base of every qm command: the shared -f/--manifest flag, manifest loading, and
// the one place where a thrown QmError becomes a message on stderr and an exit code.
import {Command, Flags, type Interfaces} from '@oclif/core'
import {QmError} from '../errors.js'
import {loadManifest} from '../manifest/load.js'
import type {Manifest} from '../manifest/types.js'
import {colourFor} from '../ui/colour.js'

export type QmFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof QmCommand)['baseFlags'] & T['flags']>

export abstract class QmCommand extends Command {
  static override baseFlags = {
    manifest: Flags.string({
      char: 'f',
      description: 'manifest file (default: $QM_MANIFEST, else services.yaml here or in the nearest parent folder)',
      helpGroup: 'GLOBAL',
    }),
  }

  protected loadManifest(flag: string | undefined): Promise<Manifest> {
    return loadManifest({flag, env: process.env, cwd: process.cwd()})
  }

  /** Results go to stdout; everything for the operator's eyes only goes to stderr. */
  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  protected diag(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** For results that are not errors but still fail the check (exit 3 for status and health). */
  protected setExitCode(code: number): void {
    process.exitCode = code
  }

  protected override async catch(err: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof QmError) {
      if (this.jsonEnabled()) {
        this.logJson({error: err.toJSON()})
      } else {
        const c = colourFor(process.stderr)
        this.diag(`${c.red('error')} ${err.message}`)
        if (err.hint) this.diag(`${c.dim('hint')}  ${err.hint}`)
        if (process.env.QM_DEBUG === '1' && err.stack) this.diag(err.stack)
      }
      this.exit(err.exitCode)
    }
    // oclif's own errors (bad flags, unknown command, this.exit) carry their exit code.
    if (err.oclif) return super.catch(err)
    this.diag(`qm: internal error, please report it: ${err.stack ?? String(err)}`)
    this.exit(1)
  }
}
