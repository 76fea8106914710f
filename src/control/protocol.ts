// The control protocol between the CLI and the daemon: one JSON object per line over a
// Unix socket. Plain JSON rather than gRPC keeps grpc-js out of the CLI's start-up for
// `qm status`, which operators type many times a day. Each request carries an id; the
// daemon answers with any number of events and then one result or one error.
import type {QmError} from '../errors.js'
import type {Method, Params} from './contract.js'

export type {Method} from './contract.js'

export interface Request {
  id: number
  method: Method
  params?: Params<Method>
}

export type ErrorBody = ReturnType<QmError['toJSON']>

export type Reply =
  | {id: number; event: unknown}
  | {id: number; result: unknown}
  | {id: number; error: ErrorBody}

/** A line longer than this is refused and the connection closed: no request needs more. */
export const MAX_LINE_BYTES = 1024 * 1024

export function encode(message: Request | Reply): string {
  return `${JSON.stringify(message)}\n`
}

/** Splits a byte stream into lines, refusing any line past MAX_LINE_BYTES. */
export class LineReader {
  private buffered = ''

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: string): void {
    this.buffered += chunk
    let newline: number
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline)
      this.buffered = this.buffered.slice(newline + 1)
      if (line.trim() !== '') this.onLine(line)
    }
    if (Buffer.byteLength(this.buffered) > MAX_LINE_BYTES) {
      this.buffered = ''
      this.onOverflow()
    }
  }
}
