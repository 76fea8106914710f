// The health probe: over mTLS with the client pair, grpc.health.v1 Check first and, for a
// service that does not implement it (the guide's services), one end-of-stream frame on
// quantra.MicroService/Call. ProbeChannels keeps one channel per target so a steady-state
// probe is one request on a warm HTTP/2 connection; probeOnce is the CLI's single shot.
import {statSync} from 'node:fs'
import {connect as tcpConnect} from 'node:net'
import * as grpc from '@grpc/grpc-js'
import {channelOptions, clientCredentials, readClientPem, type ClientPem} from '../grpc/client-credentials.js'
import {formatHostPort, planDial, stillListening} from './dial-guard.js'
import {explainFailure, type FailureContext} from './failure-reason.js'
import {CALL_PATH, HEALTH_CHECK_PATH, probeMethods, type Frame, type HealthCheckResponse} from './protos.js'
import {
  DEFAULT_OAUTH2_URL,
  DEFAULT_SERVER_NAME,
  DEFAULT_VERSION_KEYS,
  type ProbeMethod,
  type ProbeOptions,
  type ProbeResult,
  type ProbeTarget,
} from './types.js'

interface KeptChannel {
  client: grpc.Client
  /** The IP literal the channel dials, checked against the socket table before each use. */
  address: string
  local: boolean
  pem: ClientPem
  /** The certificate files as they were when the channel was opened (see credentialStamp). */
  stamp: string
  /**
   * The service on the other end answered UNIMPLEMENTED to grpc.health.v1: `auto` probes
   * on this connection go straight to Call, one RPC instead of two. A new connection (a
   * restarted service) asks again.
   */
  noHealthService?: boolean
}

/** What one RPC found, before the probe adds latency and decides whether to fall back. */
type Outcome = Omit<ProbeResult, 'latencyMs'> & {unimplemented?: boolean; answeredAtMs?: number}

/** How long a Call probe waits for trailers after the end-of-stream frame, for a version. */
const TRAILER_WAIT_MS = 250

/** Statuses that come from a service that answered: its connection is worth keeping. */
const ANSWERED = new Set<ProbeResult['status']>(['SERVING', 'NOT_SERVING', 'PROTOCOL_ERROR'])

export class ProbeChannels {
  private readonly kept = new Map<string, KeptChannel>()
  private closed = false

  /** Probes the target, reusing (or opening and keeping) its channel. Rejects only on abort or a bad certificate set. */
  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeResult> {
    return (await this.attempt(target, options)).result
  }

  /**
   * The probe, and whether it dialled at all: a refusal by the dial guard costs one socket
   * table read. A poller may pass `listenerCacheMs` to share a read that recent, when it
   * says nothing listens.
   */
  async attempt(
    target: ProbeTarget,
    options: ProbeOptions,
    {listenerCacheMs = 0}: {listenerCacheMs?: number} = {},
  ): Promise<{result: ProbeResult; dialled: boolean}> {
    if (this.closed) throw new Error('ProbeChannels.probe called after close()')
    // Parsing the protos (once per process) is qm's own start-up, not the service's latency.
    probeMethods()
    const startedMs = performance.now()
    const deadlineMs = startedMs + options.timeoutMs
    // Latency counts from qm's first packet (connect, or the request on a kept connection):
    // the socket table read and the certificate files are qm's cost, not the service's.
    let wireStartMs = startedMs
    options.signal?.throwIfAborted()
    const type = options.type ?? 'auto'
    const firstMethod: ProbeMethod = type === 'tcp' ? 'tcp' : type === 'call' ? 'call' : 'grpc'
    const finish = (outcome: Outcome, dialled = true): {result: ProbeResult; dialled: boolean} => {
      const {unimplemented: _unimplemented, answeredAtMs, ...result} = outcome
      return {result: {...result, latencyMs: round((answeredAtMs ?? performance.now()) - wireStartMs)}, dialled}
    }

    const key = channelKey(target)
    let kept = this.kept.get(key)
    // Certificates rotated (or removed) on disk: a kept channel would go on with the old
    // ones, and qm would notice only when it next reconnects. One stat per file per probe.
    const stamp = type === 'tcp' ? '' : credentialStamp(target.certs)
    if (kept && kept.stamp !== stamp) {
      this.drop(target)
      kept = undefined
    }
    // A READY channel sends on its open connection and dials nothing, so it needs no
    // guard; any other state would make grpc-js connect, and the guard applies.
    const ready = kept?.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY
    // A channel that is not READY will connect anew, perhaps to a restarted service.
    if (kept && !ready) kept.noHealthService = false
    if (kept?.local && !ready && !stillListening(kept.address, target.port, listenerCacheMs)) {
      this.drop(target)
      return finish({
        status: 'UNREACHABLE',
        method: firstMethod,
        reason: `nothing is listening on ${formatHostPort(target.host, target.port)} any more (the kernel's socket table shows no listener; not dialled)`,
      }, false)
    }
    if (!kept) {
      // Certificates first, so that nothing asynchronous of qm's own comes between the
      // guard's table read and the connect() it allows.
      const pem = type === 'tcp' ? undefined : await readClientPem(target.certs)
      const plan = await planDial(target.host, target.port, listenerCacheMs)
      if (!plan.dial) return finish({status: 'UNREACHABLE', method: firstMethod, reason: plan.reason}, false)
      wireStartMs = performance.now()
      if (!pem) return finish(await probeTcp(plan.address, target.port, deadlineMs - wireStartMs, options.signal))
      kept = {client: openClient(target, plan.address, pem), pem, address: plan.address, local: plan.local, stamp}
      // A probe running concurrently for the same target may have opened one meanwhile.
      const raced = this.kept.get(key)
      if (raced) {
        kept.client.close()
        kept = raced
      } else if (this.closed) {
        kept.client.close()
        throw new Error('ProbeChannels closed during a probe')
      } else {
        this.kept.set(key, kept)
      }
    } else if (type === 'tcp') {
      wireStartMs = performance.now()
      return finish(await probeTcp(kept.address, target.port, deadlineMs - wireStartMs, options.signal))
    }

    wireStartMs = performance.now()
    const context: FailureContext = {
      target,
      serverName: target.serverName ?? DEFAULT_SERVER_NAME,
      address: kept.address,
      local: kept.local,
      channel: kept.client.getChannel(),
      pem: kept.pem,
      timeoutMs: options.timeoutMs,
    }
    let outcome: Outcome
    if (type === 'call' || (type === 'auto' && kept.noHealthService)) {
      outcome = await probeCall(kept.client, deadlineMs, options, context)
    } else {
      outcome = await probeHealth(kept.client, deadlineMs, options, context)
      if (outcome.unimplemented) {
        kept.noHealthService = true
        outcome =
          type === 'auto'
            ? await probeCall(kept.client, deadlineMs, options, context)
            : {status: 'PROTOCOL_ERROR', method: 'grpc', reason: 'the service does not implement grpc.health.v1.Health'}
      }
    }
    if (outcome.method === 'call' && outcome.unimplemented) {
      outcome = {
        status: 'PROTOCOL_ERROR',
        method: 'call',
        reason:
          type === 'auto'
            ? 'the service implements neither grpc.health.v1.Health nor quantra.MicroService/Call'
            : 'the service does not implement quantra.MicroService/Call',
      }
    }
    // A channel that failed to connect is closed at once: grpc-js would otherwise keep
    // reconnecting in the background on its own schedule, past the dial guard.
    if (!ANSWERED.has(outcome.status)) this.drop(target)
    return finish(outcome)
  }

  /** The client kept for a target, if a probe opened one; the same object until it is dropped. */
  clientFor(target: ProbeTarget): grpc.Client | undefined {
    return this.kept.get(channelKey(target))?.client
  }

  get size(): number {
    return this.kept.size
  }

  drop(target: ProbeTarget): void {
    const key = channelKey(target)
    this.kept.get(key)?.client.close()
    this.kept.delete(key)
  }

  close(): void {
    this.closed = true
    for (const kept of this.kept.values()) kept.client.close()
    this.kept.clear()
  }
}

/** One probe on a channel of its own, closed before returning. */
export async function probeOnce(target: ProbeTarget, options: ProbeOptions): Promise<ProbeResult> {
  const channels = new ProbeChannels()
  try {
    return await channels.probe(target, options)
  } finally {
    channels.close()
  }
}

/** Identity and change time of the CA and client pair files; changes whenever one is replaced or rewritten. */
function credentialStamp(certs: ProbeTarget['certs']): string {
  return [certs.ca, certs.clientCert, certs.clientKey]
    .map((file) => {
      try {
        const stat = statSync(file)
        return `${stat.ino}:${stat.size}:${stat.mtimeMs}`
      } catch {
        return 'missing'
      }
    })
    .join('|')
}

function channelKey(target: ProbeTarget): string {
  const {ca, clientCert, clientKey} = target.certs
  return JSON.stringify([target.host, target.port, target.serverName ?? DEFAULT_SERVER_NAME, ca, clientCert, clientKey])
}

function openClient(target: ProbeTarget, address: string, pem: ClientPem): grpc.Client {
  return new grpc.Client(formatHostPort(address, target.port), clientCredentials(pem, target.certs), {
    ...channelOptions(target.serverName ?? DEFAULT_SERVER_NAME),
    // A probe reports what happened; a transparent retry would hide it.
    'grpc.enable_retries': 0,
  })
}

async function probeHealth(
  client: grpc.Client,
  deadlineMs: number,
  options: ProbeOptions,
  context: FailureContext,
): Promise<Outcome> {
  const {healthCheck} = probeMethods()
  return new Promise<Outcome>((resolve, reject) => {
    let headers: grpc.Metadata | undefined
    let response: HealthCheckResponse | undefined
    const call = client.makeUnaryRequest(
      HEALTH_CHECK_PATH,
      healthCheck.requestSerialize,
      healthCheck.responseDeserialize,
      {service: options.healthService ?? ''},
      new grpc.Metadata(),
      {deadline: wallDeadline(deadlineMs)},
      (err, value) => {
        // The outcome is decided on 'status', which grpc-js emits right after this callback.
        if (!err) response = value
      },
    )
    const stop = onAbort(options.signal, () => {
      call.cancel()
      reject(options.signal?.reason)
    })
    call.on('metadata', (md) => {
      headers = md
    })
    call.on('status', (status) => {
      stop()
      if (options.signal?.aborted) return
      const version = readVersion(options.versionKeys, headers, status.metadata)
      if (status.code === grpc.status.OK && response) {
        const serving = response.status === 'SERVING'
        resolve({
          status: serving ? 'SERVING' : 'NOT_SERVING',
          method: 'grpc',
          ...(version ? {version} : {}),
          ...(serving ? {} : {reason: `the service reports ${response.status} on grpc.health.v1`}),
        })
        return
      }
      if (status.code === grpc.status.UNIMPLEMENTED) {
        resolve({status: 'PROTOCOL_ERROR', method: 'grpc', unimplemented: true})
        return
      }
      void explainFailure(status, 'grpc.health.v1.Health/Check', context).then((failure) =>
        resolve({...failure, method: 'grpc', ...(version ? {version} : {})}), reject)
    })
  })
}

async function probeCall(
  client: grpc.Client,
  deadlineMs: number,
  options: ProbeOptions,
  context: FailureContext,
): Promise<Outcome> {
  const {call: callMethod} = probeMethods()
  return new Promise<Outcome>((resolve, reject) => {
    let headers: grpc.Metadata | undefined
    let settled = false
    let eosAtMs: number | undefined
    let trailerWait: NodeJS.Timeout | undefined
    const call = client.makeBidiStreamRequest<Frame, Frame>(
      CALL_PATH,
      callMethod.requestSerialize,
      callMethod.responseDeserialize,
      new grpc.Metadata(),
      {deadline: wallDeadline(deadlineMs)},
    )
    const settle = (outcome: Outcome, cancel: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(trailerWait)
      stop()
      // Cancelling a call that already ended is a no-op in grpc-js.
      if (cancel) call.cancel()
      resolve(outcome)
    }
    const stop = onAbort(options.signal, () => {
      settled = true
      clearTimeout(trailerWait)
      call.cancel()
      reject(options.signal?.reason)
    })
    call.on('metadata', (md) => {
      headers = md
    })
    call.on('data', (frame: Frame) => {
      if (settled || eosAtMs !== undefined) return
      let parsed: unknown
      try {
        parsed = JSON.parse(frame.payload)
      } catch {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: `Call answered with a frame that is not JSON: ${excerpt(frame.payload)}`}, true)
        return
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: `Call answered with a frame that is not a JSON object: ${excerpt(frame.payload)}`}, true)
        return
      }
      const fields = parsed as {error?: unknown; eos?: unknown}
      if (fields.error !== undefined) {
        settle({status: 'NOT_SERVING', method: 'call', reason: `Call answered with an error frame: ${excerpt(String(fields.error))}`}, true)
        return
      }
      if (fields.eos !== true) return
      const answeredAtMs = performance.now()
      eosAtMs = answeredAtMs
      const version = readVersion(options.versionKeys, headers, undefined)
      // With the version in the headers the answer is complete; otherwise it may come in the
      // trailers, which a service that ends its stream on our half-close sends at once. One
      // that keeps the stream open is SERVING all the same, without a version.
      if (version) settle({status: 'SERVING', method: 'call', version, answeredAtMs}, false)
      else {
        trailerWait = setTimeout(
          () => settle({status: 'SERVING', method: 'call', answeredAtMs}, true),
          Math.min(TRAILER_WAIT_MS, Math.max(0, deadlineMs - performance.now())),
        )
      }
    })
    call.on('status', (status) => {
      if (settled) return
      const version = readVersion(options.versionKeys, headers, status.metadata)
      if (eosAtMs !== undefined) {
        settle({status: 'SERVING', method: 'call', answeredAtMs: eosAtMs, ...(version ? {version} : {})}, false)
      } else if (status.code === grpc.status.OK) {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: 'Call ended without an end-of-stream frame'}, false)
      } else if (status.code === grpc.status.UNIMPLEMENTED) {
        settle({status: 'PROTOCOL_ERROR', method: 'call', unimplemented: true}, false)
      } else {
        settled = true
        stop()
        void explainFailure(status, 'quantra.MicroService/Call', context).then((failure) =>
          resolve({...failure, method: 'call', ...(version ? {version} : {})}), reject)
      }
    })
    call.on('error', () => {
      // Every failure also arrives as 'status', which decides the outcome.
    })
    call.write({payload: endOfStreamFrame(options.oauth2Url ?? DEFAULT_OAUTH2_URL)})
    // Half-close: a guide servicer's `for request_frame in request_iterator` then ends,
    // and the call finishes with its trailers instead of waiting for the deadline.
    call.end()
  })
}

function probeTcp(address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    const socket = tcpConnect({host: address, port})
    const timer = setTimeout(() => {
      socket.destroy()
      stop()
      resolve({status: 'TIMEOUT', method: 'tcp', reason: `the TCP connection was not accepted within ${Math.round(timeoutMs)} ms`})
    }, timeoutMs)
    const stop = onAbort(signal, () => {
      clearTimeout(timer)
      socket.destroy()
      reject(signal?.reason)
    })
    socket.once('connect', () => {
      clearTimeout(timer)
      stop()
      socket.destroy()
      resolve({status: 'SERVING', method: 'tcp', answeredAtMs: performance.now()})
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      stop()
      resolve({
        status: 'UNREACHABLE',
        method: 'tcp',
        reason: err.code === 'ECONNREFUSED' ? 'connection refused' : err.message,
      })
    })
  })
}

function endOfStreamFrame(oauth2Url: string): string {
  return JSON.stringify({oauth2: {url: oauth2Url}, data: [], tod: 'object', eos: true})
}

export function readVersion(
  keys: readonly string[] | undefined,
  headers: grpc.Metadata | undefined,
  trailers: grpc.Metadata | undefined,
): string | undefined {
  for (const key of keys ?? DEFAULT_VERSION_KEYS) {
    const value = headers?.get(key)[0] ?? trailers?.get(key)[0]
    if (value !== undefined) return value.toString()
  }
  return undefined
}

function onAbort(signal: AbortSignal | undefined, action: () => void): () => void {
  if (!signal) return () => {}
  signal.addEventListener('abort', action, {once: true})
  return () => signal.removeEventListener('abort', action)
}

// grpc-js takes deadlines in wall-clock time; the probe keeps its own on the monotonic clock.
function wallDeadline(deadlineMs: number): number {
  return Date.now() + Math.max(0, deadlineMs - performance.now())
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 80)}…` : flat)
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
