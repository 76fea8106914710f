// The probes' gRPC channel, on Node's own http2: one kept mutual-TLS HTTP/2 connection to
// one address, and calls that send one message, half-close, and read what comes back.
// Not grpc-js, which `qm call` uses: the daemon keeps a channel per service, and grpc-js's
// client, channel and subchannel machinery for forty of them cost 7 to 9 MiB more than
// forty of these (60.2 and 61.7 against 52.9 MiB in one process, under the daemon's V8
// flags, each after four rounds of probes), for the two methods the probes send.
// The wire is gRPC over HTTP/2 as its protocol document gives it: a POST with content-type
// application/grpc, each message behind a compressed flag and a 4-byte length, the status
// in the trailers (or in the headers, for a call that fails at once).
import {connect as connectHttp2, constants, type ClientHttp2Session, type IncomingHttpHeaders} from 'node:http2'
import {isIP} from 'node:net'
import {checkServerIdentity, connect as connectTls, type SecureContext} from 'node:tls'
import {formatHostPort} from './dial-guard.js'
import {GrpcStatus, type CallStatus} from './status-codes.js'

export type {IncomingHttpHeaders}

export interface CallHandlers {
  /** The response headers (for a call that failed at once, its status is in them too). */
  onHeaders?(headers: IncomingHttpHeaders): void
  /** One whole message, as it came. */
  onMessage?(message: Buffer): void
  /** Exactly once: the status, with the trailers (or headers) it came in when the server sent one. */
  onStatus(status: CallStatus, trailers?: IncomingHttpHeaders): void
}

export interface ActiveCall {
  /** Ends the call (RST_STREAM CANCEL); its status is CANCELLED unless it had one already. */
  cancel(): void
}

/** grpc-js's default limit on a received message: a probe's answers are a few bytes. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/** HTTP statuses a gRPC server (or a proxy in front of it) may answer with, as gRPC maps them. */
const HTTP_TO_GRPC: Record<number, number> = {
  400: GrpcStatus.INTERNAL,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.UNIMPLEMENTED,
  429: GrpcStatus.UNAVAILABLE,
  502: GrpcStatus.UNAVAILABLE,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.UNAVAILABLE,
}

export class Http2GrpcChannel {
  /** The connection whose peer has sent its SETTINGS, while it is open. */
  private ready: ClientHttp2Session | undefined
  private connecting: Promise<ClientHttp2Session> | undefined
  private readonly sessions = new Set<ClientHttp2Session>()
  private closed = false

  constructor(
    private readonly address: string,
    private readonly port: number,
    /** The name the service certificate must carry, also sent as SNI and :authority. */
    private readonly serverName: string,
    private readonly secureContext: SecureContext,
  ) {}

  /** A call now goes out on an open connection, dialling nothing. */
  get isReady(): boolean {
    return this.openReady() !== undefined
  }

  call(path: string, message: Buffer, deadlineMs: number, handlers: CallHandlers): ActiveCall {
    let ended = false
    let cancelStream: (() => void) | undefined
    const end = (status: CallStatus, trailers?: IncomingHttpHeaders) => {
      if (ended) return
      ended = true
      clearTimeout(deadline)
      handlers.onStatus(status, trailers)
    }
    const deadline = setTimeout(() => {
      cancelStream?.()
      end({code: GrpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded'})
    }, Math.max(0, deadlineMs - performance.now()))
    // Nothing of a call reaches its handlers once it has its status (a cancel, the deadline).
    const live: CallHandlers = {
      onHeaders: (headers) => {
        if (!ended) handlers.onHeaders?.(headers)
      },
      onMessage: (bytes) => {
        if (!ended) handlers.onMessage?.(bytes)
      },
      onStatus: end,
    }
    this.connection().then(
      (session) => {
        if (ended) return
        try {
          cancelStream = this.send(session, path, message, deadlineMs, live)
        } catch (error) {
          // A session that went away between the connect and this request.
          end({code: GrpcStatus.UNAVAILABLE, details: (error as Error).message})
        }
      },
      (error: Error) => end({code: GrpcStatus.UNAVAILABLE, details: error.message}),
    )
    return {
      cancel: () => {
        if (ended) return
        cancelStream?.()
        end({code: GrpcStatus.CANCELLED, details: 'Cancelled on client'})
      },
    }
  }

  /** The ready session while it can still take a call; Node marks one closed or destroyed some ticks before its 'close'. */
  private openReady(): ClientHttp2Session | undefined {
    const session = this.ready
    if (session && (session.closed || session.destroyed)) this.ready = undefined
    return this.ready
  }

  close(): void {
    this.closed = true
    for (const session of this.sessions) session.destroy()
    this.sessions.clear()
    this.ready = undefined
  }

  private send(
    session: ClientHttp2Session,
    path: string,
    message: Buffer,
    deadlineMs: number,
    handlers: CallHandlers,
  ): () => void {
    const end = handlers.onStatus
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'grpc-timeout': `${Math.max(1, Math.ceil(deadlineMs - performance.now()))}m`,
    })
    let headers: IncomingHttpHeaders | undefined
    let trailers: IncomingHttpHeaders | undefined
    let streamError: Error | undefined
    let pending: Buffer = Buffer.alloc(0)
    let cancelled = false
    stream.on('response', (received) => {
      headers = received
      handlers.onHeaders?.(received)
    })
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1)
        if (length > MAX_MESSAGE_BYTES) {
          cancelled = true
          stream.close(constants.NGHTTP2_CANCEL)
          end({code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${MAX_MESSAGE_BYTES})`})
          return
        }
        if (pending.length < 5 + length) return
        if (pending[0] !== 0) {
          cancelled = true
          stream.close(constants.NGHTTP2_CANCEL)
          end({code: GrpcStatus.INTERNAL, details: 'the server sent a compressed message, though qm asked for none'})
          return
        }
        const whole = pending.subarray(5, 5 + length)
        pending = pending.subarray(5 + length)
        handlers.onMessage?.(whole)
      }
    })
    stream.on('trailers', (received) => {
      trailers = received
    })
    stream.on('error', (error) => {
      streamError = error
    })
    stream.on('close', () => {
      const withStatus = trailers ?? (headers?.['grpc-status'] !== undefined ? headers : undefined)
      if (withStatus) {
        end(statusOf(withStatus), withStatus)
        return
      }
      const httpStatus = Number(headers?.[':status'] ?? 200)
      if (httpStatus !== 200) {
        end({code: HTTP_TO_GRPC[httpStatus] ?? GrpcStatus.UNKNOWN, details: `Received HTTP status code ${httpStatus}`})
        return
      }
      // The connection went (the service exited or reset it): what grpc-js calls a dropped connection.
      if (!cancelled && (session.closed || session.destroyed)) {
        end({code: GrpcStatus.UNAVAILABLE, details: streamError?.message ?? 'Connection dropped'})
      } else if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
        end({code: GrpcStatus.UNAVAILABLE, details: 'Stream refused by server'})
      } else if (stream.rstCode === constants.NGHTTP2_CANCEL) {
        end({code: GrpcStatus.CANCELLED, details: 'Call cancelled'})
      } else if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        end({code: GrpcStatus.INTERNAL, details: `Received RST_STREAM with code ${stream.rstCode}`})
      } else if (streamError) {
        end({code: GrpcStatus.UNAVAILABLE, details: streamError.message})
      } else {
        end({code: GrpcStatus.INTERNAL, details: 'Call ended without gRPC status'})
      }
    })
    stream.end(framed(message))
    return () => {
      cancelled = true
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL)
    }
  }

  /** The open connection, or a new one: ready once the server has sent its HTTP/2 SETTINGS, as grpc-js counts it. */
  private connection(): Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new Error('channel closed'))
    const ready = this.openReady()
    if (ready) return Promise.resolve(ready)
    if (this.connecting) return this.connecting
    const attempt = new Promise<ClientHttp2Session>((resolve, reject) => {
      const ip = isIP(this.serverName) !== 0
      // The authority is only the :authority header: the socket below goes to the address.
      const authority = ip ? formatHostPort(this.serverName, this.port) : `${this.serverName}:${this.port}`
      let session: ClientHttp2Session
      try {
        session = connectHttp2(`https://${authority}`, {
          createConnection: () =>
            connectTls({
              host: this.address,
              port: this.port,
              secureContext: this.secureContext,
              ALPNProtocols: ['h2'],
              // SNI takes a name only; the certificate is checked against the name either way.
              ...(ip ? {} : {servername: this.serverName}),
              checkServerIdentity: (_host, certificate) => checkServerIdentity(this.serverName, certificate),
            }),
          settings: {enablePush: false},
        })
      } catch (error) {
        reject(error as Error)
        return
      }
      this.sessions.add(session)
      let lastError: Error | undefined
      let settled = false
      session.on('error', (error) => {
        lastError = error
        if (this.ready === session) this.ready = undefined
      })
      session.once('remoteSettings', () => {
        settled = true
        if (this.closed) return reject(new Error('channel closed'))
        this.ready = session
        resolve(session)
      })
      // A GOAWAY lets the calls under way finish; new ones go on a new connection.
      session.once('goaway', () => {
        if (this.ready === session) this.ready = undefined
      })
      session.once('close', () => {
        this.sessions.delete(session)
        if (this.ready === session) this.ready = undefined
        if (settled) return
        // grpc-js's words for a connection that closed without an error of its own.
        reject(this.closed ? new Error('channel closed') : (lastError ?? new Error('Failed to connect')))
      })
    })
    // The next call after this attempt, whatever its outcome, starts from the state then.
    const forget = () => {
      if (this.connecting === attempt) this.connecting = undefined
    }
    attempt.then(forget, forget)
    this.connecting = attempt
    return attempt
  }
}

function framed(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length)
  frame[0] = 0
  frame.writeUInt32BE(message.length, 1)
  message.copy(frame, 5)
  return frame
}

function statusOf(fields: IncomingHttpHeaders): CallStatus {
  const code = fields['grpc-status']
  const message = fields['grpc-message']
  return {code: typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : GrpcStatus.UNKNOWN, details: typeof message === 'string' ? decodeMessage(message) : ''}
}

/** grpc-message is percent-encoded UTF-8. */
function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
