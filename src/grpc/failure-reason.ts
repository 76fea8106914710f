// Turns a failed RPC's status into a ProbeResult status and a reason an operator can act
// on. Both gRPC clients of qm (the probes' own, h2-channel.ts, and grpc-js for `qm call`)
// report a connection failure as UNAVAILABLE with the underlying Node or OpenSSL text in
// `details` (grpc-js wraps it: "No connection established. Last error: Error: certificate
// has expired. ..."); the reason is read from that text, and where the text cannot tell
// (a server that hangs up after the handshake) from a second, observing TLS connection.
import {X509Certificate} from 'node:crypto'
import {basename, isAbsolute, relative} from 'node:path'
import {stillListening} from './dial-guard.js'
import {GrpcStatus, statusName, type CallStatus} from './status-codes.js'
import {inspectTls, type TlsInspection} from './tls-inspect.js'
import type {ProbeResult, ProbeTarget} from './types.js'
import {utcTimestamp} from '../utc-time.js'

export interface FailureContext {
  target: ProbeTarget
  serverName: string
  /** The address the channel dials, and whether it is on this host (the dial guard applies). */
  address: string
  local: boolean
  /** The channel has an open connection (a deadline then passed on an answer, not on a dial). */
  connected: () => boolean
  pem: {ca: Buffer; cert: Buffer; key: Buffer}
  timeoutMs: number
}

export type Failure = Pick<ProbeResult, 'status' | 'reason' | 'cause'>

const SERVER_NOT_SIGNED =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate|certificate signature failure|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT/i
const SERVER_EXPIRED = /certificate has expired|CERT_HAS_EXPIRED/i
const SERVER_NOT_YET_VALID = /certificate is not yet valid|CERT_NOT_YET_VALID/i
const NAME_MISMATCH = /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i
// TLS 1.2 servers (and some TLS 1.3 ones) send an alert when they reject the client's certificate.
const CLIENT_REJECTED_ALERT = /alert (unknown ca|bad certificate|certificate required|certificate unknown|certificate expired|certificate revoked|unsupported certificate|access denied|decrypt error)/i
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i
// What a gRPC client says when the server closes the connection before HTTP/2 starts.
const HUNG_UP = /ECONNRESET|Failed to connect|Socket closed|Connection dropped|socket hang up|EPIPE|disconnected before secure TLS/i

export async function explainFailure(status: CallStatus, rpc: string, context: FailureContext): Promise<Failure> {
  switch (status.code) {
    case GrpcStatus.DEADLINE_EXCEEDED: {
      const connected = context.connected()
      return {
        status: 'TIMEOUT',
        reason: connected
          ? `connected, but ${rpc} got no answer within ${Math.round(context.timeoutMs)} ms`
          : `no connection within ${Math.round(context.timeoutMs)} ms: the TCP connection or the TLS handshake did not finish`,
      }
    }
    case GrpcStatus.UNAVAILABLE:
      return explainUnavailable(lastError(status.details), context)
    case GrpcStatus.INTERNAL:
      if (/pars|deserializ/i.test(status.details)) {
        return {status: 'PROTOCOL_ERROR', reason: `${rpc} answered with a message qm cannot decode: ${status.details}`}
      }
      break
    default:
      break
  }
  return {status: 'NOT_SERVING', reason: `${rpc} failed with ${statusName(status.code)}: ${status.details || 'no details'}`}
}

async function explainUnavailable(text: string, context: FailureContext): Promise<Failure> {
  const {ca} = context.target.certs
  const caName = `${basename(ca)} (${displayPath(ca)})`
  if (/ECONNREFUSED/.test(text)) return {status: 'UNREACHABLE', reason: 'connection refused'}
  if (/EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENOTFOUND|EAI_AGAIN|ETIMEDOUT/.test(text)) {
    return {status: 'UNREACHABLE', reason: text}
  }
  if (SERVER_EXPIRED.test(text)) {
    const peer = (await inspect(context))?.peer
    const when = peer ? ` on ${formatDate(peer.validTo)}` : ''
    return {status: 'TLS_ERROR', reason: `the server's certificate expired${when}`}
  }
  if (SERVER_NOT_YET_VALID.test(text)) {
    const peer = (await inspect(context))?.peer
    const when = peer ? ` until ${formatDate(peer.validFrom)}` : ''
    return {status: 'TLS_ERROR', reason: `the server's certificate is not valid yet${when} (is this host's clock right?)`}
  }
  if (NAME_MISMATCH.test(text)) {
    const names = /cert's altnames: (.*?)\.?$/.exec(text)?.[1]
    return {
      status: 'TLS_ERROR',
      reason: `the server's certificate is not valid for the name ${context.serverName}${names ? ` (it names ${names})` : ''}; set the expected name with --server-name or health.server_name`,
    }
  }
  if (SERVER_NOT_SIGNED.test(text)) {
    return {status: 'TLS_ERROR', reason: `the server's certificate is not signed by ${caName}`, cause: 'qm-credentials'}
  }
  if (CLIENT_REJECTED_ALERT.test(text)) {
    return {status: 'TLS_ERROR', reason: clientRejected(context, text), cause: 'qm-credentials'}
  }
  if (NOT_TLS.test(text)) {
    return {status: 'TLS_ERROR', reason: `the service does not speak TLS on this port (${text}); was it started without --server-cert?`}
  }
  if (HUNG_UP.test(text)) {
    if (context.local && !(await stillListening(context.address, context.target.port))) {
      return {status: 'UNREACHABLE', reason: `the connection was closed and nothing listens on the port any more (${text})`}
    }
    const seen = await inspect(context)
    if (seen?.handshake && seen.afterHandshake === 'closed') {
      return {status: 'TLS_ERROR', reason: clientRejected(context, undefined), cause: 'qm-credentials'}
    }
    if (seen && !seen.handshake && seen.error) return explainUnavailableOnce(seen.error, context, text)
    return {status: 'UNREACHABLE', reason: `the connection was closed before gRPC could start (${text})`}
  }
  return {status: 'UNREACHABLE', reason: text}
}

// The observing connection's own handshake error, read once more; never inspects again.
async function explainUnavailableOnce(error: string, context: FailureContext, original: string): Promise<Failure> {
  if (HUNG_UP.test(error)) return {status: 'UNREACHABLE', reason: `the connection was closed before gRPC could start (${original})`}
  return explainUnavailable(error, context)
}

/**
 * Why the server may have refused our certificate, checked locally: the server's CA is
 * not known to qm, but whether client.crt is signed by qm's ca.crt and still valid is.
 */
function clientRejected(context: FailureContext, alert: string | undefined): string {
  const {ca, clientCert} = context.target.certs
  const head = alert
    ? `the server rejected the client certificate ${displayPath(clientCert)} (${alert})`
    : `the server rejected the client certificate ${displayPath(clientCert)}: it closed the connection as soon as the TLS handshake was done`
  const local = checkClientPair(context.pem, ca)
  if (local) return `${head}; ${local}`
  return `${head}; the service's --ca-cert is probably another CA than ${displayPath(ca)}`
}

function checkClientPair(pem: FailureContext['pem'], caPath: string): string | undefined {
  try {
    const client = new X509Certificate(pem.cert)
    const ca = new X509Certificate(pem.ca)
    const now = Date.now()
    if (Date.parse(client.validTo) < now) return `it expired on ${formatDate(new Date(client.validTo))}`
    if (Date.parse(client.validFrom) > now) return `it is not valid until ${formatDate(new Date(client.validFrom))}`
    if (!client.checkIssued(ca) || !client.verify(ca.publicKey)) {
      return `it is not signed by ${basename(caPath)}, the CA qm trusts (its issuer is ${oneLine(client.issuer)})`
    }
  } catch (err) {
    return `qm cannot read it: ${(err as Error).message}`
  }
  return undefined
}

async function inspect(context: FailureContext): Promise<TlsInspection | undefined> {
  // The second connection goes through the same guard as the first.
  if (context.local && !(await stillListening(context.address, context.target.port))) return undefined
  return inspectTls({
    address: context.address,
    port: context.target.port,
    serverName: context.serverName,
    ...context.pem,
    timeoutMs: Math.min(context.timeoutMs, 500),
  })
}

/** "No connection established. Last error: Error: X (2026-...). Resolution note: " → "X". */
function lastError(details: string): string {
  const m = /Last error: (.*?)(?:\. Resolution note:.*)?$/s.exec(details)
  let text = (m?.[1] ?? details).trim()
  text = text.replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/, '')
  text = text.replace(/^Error(?: \[[A-Z_]+\])?: /, '')
  return text
}

function formatDate(date: Date): string {
  return utcTimestamp(date.getTime()).replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

function oneLine(name: string): string {
  return name.split('\n').join(', ')
}

/** A path as the operator typed it: relative to the working directory when it lies inside it. */
export function displayPath(path: string): string {
  if (!isAbsolute(path)) return path
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}
