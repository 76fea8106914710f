// What a dial is aimed at (a ProbeTarget) and what a probe answers (ProbeResult): the words
// the gRPC edge, the health probes, `qm call` and the supervisor share.
import type {CertPaths, ProbeType} from '../manifest/types.js'

export type {ProbeType}

export type ProbeStatus = 'SERVING' | 'NOT_SERVING' | 'UNREACHABLE' | 'TLS_ERROR' | 'TIMEOUT' | 'PROTOCOL_ERROR'

/** How the answer was obtained: grpc.health.v1 Check, a quantra.MicroService Call, or a TCP connect. */
export type ProbeMethod = 'grpc' | 'call' | 'tcp'

export interface ProbeResult {
  status: ProbeStatus
  /**
   * From qm's first packet (the connect, or the request on a kept connection) to the
   * answer, on a monotonic clock; for a port the dial guard refused, the time it took.
   */
  latencyMs: number
  method: ProbeMethod
  /** From the response metadata, when the service sent one of the version keys. */
  version?: string
  /** Why the status is not SERVING, in words for the operator. */
  reason?: string
  /**
   * 'qm-credentials': the failure lies with qm's own side (its client certificate refused,
   * its CA not trusting the server, its key unreadable), which no restart of the service fixes.
   */
  cause?: 'qm-credentials'
}

export interface ProbeTarget {
  /** A name or address; on this host the probe dials only a port that has a listener. */
  host: string
  port: number
  /** qm connects with the client pair, verifying the service against the CA. */
  certs: Pick<CertPaths, 'ca' | 'clientCert' | 'clientKey'>
  /** TLS name the service certificate must carry (default 'localhost'). */
  serverName?: string
}

export interface ProbeOptions {
  /** Default 'auto': grpc.health.v1 first, Call when the service does not implement it. */
  type?: ProbeType
  timeoutMs: number
  /** Metadata keys read for the version, the first present wins. */
  versionKeys?: readonly string[]
  /** The `service` field of the health request; '' asks about the server as a whole. */
  healthService?: string
  /** oauth2.url of the end-of-stream frame a Call probe sends. */
  oauth2Url?: string
  /** Ends the probe at once; it then rejects with the signal's reason. */
  signal?: AbortSignal
}

