// The base of every qm command: the shared -f/--manifest flag, manifest loading, and
// the one place where a thrown QmError becomes a message on stderr and an exit code.
import {Command, Flags, type Interfaces} from '@oclif/core'
import {closest} from '../closest-word.js'
import {ExitCode, QmError, UsageError} from '../errors.js'
import {loadManifest} from '../manifest/load.js'
import type {Manifest} from '../manifest/types.js'
import type {ChangeIo} from './change-commands.js'
import type {CommandIo} from './read-commands.js'
import {writeError} from '../ui/error-report.js'

export type QmFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof QmCommand)['baseFlags'] & T['flags']>

const MANIFEST_FLAG = {
  description: 'manifest file (default: $QM_MANIFEST, else services.yaml here or in the nearest parent folder)',
  helpGroup: 'GLOBAL',
} as const

/**
 * The rule for choosing the manifest, the same on every command: --manifest FILE, or -f FILE
 * before the command (qm -f FILE status, as docker compose), or QM_MANIFEST. After the
 * command, -f is --manifest too, except on commands that follow (qm logs -f), where -f
 * means --follow as in every log tool; those take this flag instead of the default one.
 */
export const manifestFlagWithoutShort = Flags.string(MANIFEST_FLAG)

export abstract class QmCommand extends Command {
  static override baseFlags = {
    manifest: Flags.string({...MANIFEST_FLAG, char: 'f'}),
  }

  /** From the cache in the state folder when the file and what it reads are unchanged, unless `cached` is false. */
  protected loadManifest(flag: string | undefined, {cached = true}: {cached?: boolean} = {}): Promise<Manifest> {
    return loadManifest({flag, env: process.env, cwd: process.cwd(), cached})
  }

  /** Results go to stdout; everything for the operator's eyes only goes to stderr. */
  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  protected diag(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** Where a body shared with the fast path (read-commands.ts) prints. */
  protected io(): CommandIo {
    return {out: (text) => this.out(text), json: this.jsonEnabled()}
  }

  protected changeIo(): ChangeIo {
    return {...this.io(), diag: (text) => this.diag(text)}
  }

  /** For results that are not errors but still fail the check (exit 3 for status and health). */
  protected setExitCode(code: number): void {
    process.exitCode = code
  }

  protected override async catch(thrown: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    // The parser's refusals carry exit 2; this.exit() throws EEXIT, which is no refusal.
    const refused = 'parse' in thrown || (thrown.oclif?.exit === 2 && !thrown.message.startsWith('EEXIT'))
    const err = refused ? this.usageError(thrown as Error & {flags?: string[]}) : thrown
    if (err instanceof QmError) {
      writeError(err, this.jsonEnabled())
      this.exit(err.exitCode)
    }
    // oclif's own exits (this.exit, --help, --version) carry their exit code.
    if (err.oclif) return super.catch(err)
    this.diag(`qm: internal error, please report it: ${err.stack ?? String(err)}`)
    this.exit(ExitCode.failed)
  }

  /** oclif's parse errors (an unknown or misspelt flag, a missing value) in qm's own words, exit 2. */
  private usageError(error: Error & {flags?: string[]}): UsageError {
    const help = `qm ${this.id?.replace(/:/g, ' ') ?? ''} --help lists its flags`.replace(/ +/g, ' ')
    if (error.flags && error.flags.length > 0) {
      const known = Object.entries(this.ctor.flags ?? {}).flatMap(([name, flag]) => [`--${name}`, ...((flag as {aliases?: string[]}).aliases ?? []).map((a) => `--${a}`)])
      const typed = error.flags[0]!.replace(/=.*/, '')
      const guess = typed.startsWith('--') ? closest(typed, known) : undefined
      return new UsageError(`unknown flag ${error.flags.join(', ')}`, `${guess ? `did you mean ${guess}? ` : ''}${help}`)
    }
    const message = error.message.split('\n')[0]!.replace(/^Error: /, '')
    return new UsageError(message.charAt(0).toLowerCase() + message.slice(1), help)
  }
}
