// A second look at a TLS failure, made only after a probe failed: a plain TLS connection
// with the same client pair that accepts any server certificate, so qm can see what the
// server presented and what it did once the handshake was over. Needed because a server
// that rejects the client certificate under TLS 1.3 gives no alert: Node's and gRPC
// core's servers finish the handshake, check the certificate, and close the socket, which
// a gRPC client reports only as "read ECONNRESET" or "Failed to connect".
import {connect, type PeerCertificate} from 'node:tls'

export interface TlsInspection {
  handshake: boolean
  /** The handshake error, when the handshake itself failed. */
  error?: string
  /** What the server presented, when the handshake got that far. */
  peer?: {validFrom: Date; validTo: Date; subjectAltName?: string}
  /** After a completed handshake: did the server speak (HTTP/2 SETTINGS, session tickets) or hang up? */
  afterHandshake?: 'spoke' | 'closed' | 'silent'
}

export interface InspectOptions {
  address: string
  port: number
  serverName: string
  ca: Buffer
  cert: Buffer
  key: Buffer
  timeoutMs: number
}

export function inspectTls(options: InspectOptions): Promise<TlsInspection> {
  return new Promise((resolve) => {
    const result: TlsInspection = {handshake: false}
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const socket = connect({
      host: options.address,
      port: options.port,
      servername: options.serverName,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      ALPNProtocols: ['h2'],
      // Observation only: the probe that failed already did the verifying.
      rejectUnauthorized: false,
    })
    const timer = setTimeout(() => {
      if (result.handshake && !result.afterHandshake) result.afterHandshake = 'silent'
      finish()
    }, options.timeoutMs)
    socket.once('secureConnect', () => {
      result.handshake = true
      const peer = describePeer(socket.getPeerCertificate())
      if (peer) result.peer = peer
    })
    socket.once('data', () => {
      result.afterHandshake = 'spoke'
      finish()
    })
    socket.once('end', () => {
      if (result.handshake) result.afterHandshake = 'closed'
      finish()
    })
    socket.once('error', (err) => {
      if (result.handshake) result.afterHandshake ??= 'closed'
      else result.error = err.message
      finish()
    })
    socket.once('close', finish)
  })
}

function describePeer(cert: PeerCertificate): TlsInspection['peer'] {
  // An empty object when the server sent no certificate (never with TLS and gRPC, but typed so).
  if (!cert.valid_to) return undefined
  return {
    validFrom: new Date(cert.valid_from),
    validTo: new Date(cert.valid_to),
    ...(cert.subjectaltname ? {subjectAltName: cert.subjectaltname} : {}),
  }
}
