// Typed errors: each carries the message a person reads, a stable code for --json
// readers, the process exit code (SPEC section 7) and, where there is one, what to do.
// The codes and their exit codes are listed in error-codes.ts.
import type {ErrorCode} from './error-codes.js'

export type {ErrorCode} from './error-codes.js'

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unhealthy: 3,
  /** Ctrl-C: 128 + SIGINT, as shells report it. */
  interrupted: 130,
} as const

export type ErrorExitCode = 1 | 2 | 130

export class QmError extends Error {
  constructor(
    message: string,
    readonly exitCode: ErrorExitCode,
    readonly code: ErrorCode,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = new.target.name
  }

  toJSON(): {code: string; exitCode: number; message: string; hint?: string} {
    return {code: this.code, exitCode: this.exitCode, message: this.message, ...(this.hint ? {hint: this.hint} : {})}
  }
}

/** The manifest is missing, unreadable or invalid; always exit 2. */
export class ManifestError extends QmError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, 2, 'MANIFEST', hint, options)
  }
}

/** The command line asks for something that cannot be (bad name, port outside the range). */
export class UsageError extends QmError {
  constructor(message: string, hint?: string) {
    super(message, 2, 'USAGE', hint)
  }
}

export class RegistryError extends QmError {
  constructor(message: string, code: ErrorCode = 'REGISTRY', hint?: string, options?: ErrorOptions) {
    super(message, 1, code, hint, options)
  }
}

export class RowMovedError extends RegistryError {
  constructor(name: string, host: string, expected: number, found: number | undefined) {
    super(
      found === undefined ? `${name} has no registry row on host ${host} any more` : `${name}'s registry row says port ${found}, not ${expected}: another writer changed it`,
      'ROW_MOVED',
      'nothing was moved; qm endpoints shows the row as it is',
    )
  }
}

export class NoFreePortError extends RegistryError {
  constructor(range: readonly [number, number], host: string) {
    super(
      `no free port in ${range[0]}-${range[1]} on host ${host}`,
      'NO_FREE_PORT',
      'unregister a service you no longer run (qm unregister NAME) or widen port_range in the manifest',
    )
  }
}

export class PortTakenError extends RegistryError {
  constructor(message: string, hint?: string) {
    super(message, 'PORT_TAKEN', hint)
  }
}

export class NameTakenError extends RegistryError {
  constructor(message: string, hint?: string) {
    super(message, 'NAME_TAKEN', hint)
  }
}

export class NotRegisteredError extends RegistryError {
  constructor(name: string, host: string) {
    super(`${name} is not registered on host ${host}`, 'NOT_REGISTERED', 'qm endpoints lists what is registered')
  }
}

/** The operator pressed Ctrl-C while a command waited; the message says what is left running. */
export class Interrupted extends QmError {
  constructor(message: string, hint?: string) {
    super(message, 130, 'INTERRUPTED', hint)
  }
}

/** Rebuilds an error that crossed a process boundary (control socket, child CLI) as JSON. */
export function qmErrorFromJSON(value: {code: string; exitCode: number; message: string; hint?: string}): QmError {
  const exitCode: ErrorExitCode = value.exitCode === 2 ? 2 : value.exitCode === 130 ? 130 : 1
  // A daemon of another version may name a code this one does not list: it is passed on as is.
  return new QmError(value.message, exitCode, value.code as ErrorCode, value.hint)
}
