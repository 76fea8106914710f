// The health probe's channel pool: one kept channel per target, so a steady-state probe is
// one request on a warm HTTP/2 connection, and the choice of probe: grpc.health.v1 Check
// first and, for a service that does not implement it (the guide's services), one
// end-of-stream frame on quantra.MicroService/Call (probe-health.ts, probe-call.ts,
// probe-tcp.ts). probeOnce is the CLI's single shot.
import {statSync} from 'node:fs'
import type {SecureContext} from 'node:tls'
import type {ClientPem} from '../grpc/client-credentials.js'
import type {Http2GrpcChannel} from '../grpc/h2-channel.js'
import {formatHostPort, planDial, stillListening} from '../grpc/dial-guard.js'
import type {FailureContext} from '../grpc/failure-reason.js'
import type {ProbeMethod, ProbeOptions, ProbeResult, ProbeTarget} from '../grpc/types.js'
import {DEFAULT_SERVER_NAME} from '../manifest/defaults.js'
import {onAbort, round, type Outcome} from './probe-outcome.js'
import {probeTcp} from './probe-tcp.js'

/**
 * The channel and the probes built on it, loaded by the first probe rather than with the
 * module: a command that probes nothing (qm status) does not load node:http2.
 */
async function loadGrpcModules() {
  const [channel, credentials, call, health] = await Promise.all([
    import('../grpc/h2-channel.js'),
    import('../grpc/client-credentials.js'),
    import('./probe-call.js'),
    import('./probe-health.js'),
  ])
  return {Http2GrpcChannel: channel.Http2GrpcChannel, ...credentials, probeCall: call.probeCall, probeHealth: health.probeHealth}
}
type GrpcModules = Awaited<ReturnType<typeof loadGrpcModules>>

interface KeptChannel {
  client: Http2GrpcChannel
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

/** A certificate set as read from disk at one stamp, and the TLS context made of it. */
interface ChannelTls {
  pem: ClientPem
  secureContext: SecureContext
}

/** Statuses that come from a service that answered: its connection is worth keeping. */
const ANSWERED = new Set<ProbeResult['status']>(['SERVING', 'NOT_SERVING', 'PROTOCOL_ERROR'])

export class ProbeChannels {
  private readonly kept = new Map<string, KeptChannel>()
  /** Targets (channelKey) whose last answer to grpc.health.v1 was UNIMPLEMENTED, on whatever connection. */
  private readonly withoutHealthService = new Set<string>()
  /** By certificate files: the stamp they were read at, and the reading (under way or done). */
  private readonly credentials = new Map<string, {stamp: string; tls: Promise<ChannelTls>}>()
  private grpcModules: Promise<GrpcModules> | undefined
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
    // A load that failed (a file missing from an install) is tried again by the next probe.
    const modules = await (this.grpcModules ??= loadGrpcModules().catch((error: unknown) => {
      this.grpcModules = undefined
      throw error
    }))
    const startedMs = performance.now()
    const deadlineMs = startedMs + options.timeoutMs
    // Latency counts from qm's first packet (connect, or the request on a kept connection):
    // the socket table read and the certificate files are qm's cost, not the service's.
    let wireStartMs = startedMs
    options.signal?.throwIfAborted()
    const type = options.type ?? 'auto'
    const firstMethod: ProbeMethod = type === 'tcp' ? 'tcp' : type === 'call' ? 'call' : 'grpc'
    const finish = (outcome: Outcome, dialled = true): {result: ProbeResult; dialled: boolean} => {
      const {unimplemented: _unimplemented, answeredAtMs, explain: _explain, ...result} = outcome
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
    // A ready channel sends on its open connection and dials nothing, so it needs no
    // guard; any other would connect, and the guard applies.
    const ready = kept?.client.isReady === true
    // A channel that is not ready will connect anew, perhaps to a restarted service.
    if (kept && !ready) kept.noHealthService = false
    if (kept?.local && !ready && !(await stillListening(kept.address, target.port, listenerCacheMs))) {
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
      const tls = type === 'tcp' ? undefined : await this.credentialsFor(target, stamp, modules)
      const plan = await planDial(target.host, target.port, listenerCacheMs)
      if (!plan.dial) return finish({status: 'UNREACHABLE', method: firstMethod, reason: plan.reason}, false)
      wireStartMs = performance.now()
      if (!tls) return finish(await probeTcp(plan.address, target.port, deadlineMs - wireStartMs, options.signal))
      const client = new modules.Http2GrpcChannel(plan.address, target.port, target.serverName ?? DEFAULT_SERVER_NAME, tls.secureContext)
      kept = {client, pem: tls.pem, address: plan.address, local: plan.local, stamp}
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

    // The signal may have ended during the awaits above, after which no abort event comes.
    options.signal?.throwIfAborted()
    wireStartMs = performance.now()
    const channel = kept.client
    const context: FailureContext = {
      target,
      serverName: target.serverName ?? DEFAULT_SERVER_NAME,
      address: kept.address,
      local: kept.local,
      connected: () => channel.isReady,
      pem: kept.pem,
      timeoutMs: options.timeoutMs,
    }
    let outcome: Outcome
    if (type === 'call' || (type === 'auto' && kept.noHealthService)) {
      outcome = await modules.probeCall(kept.client, deadlineMs, options, context)
    } else {
      // A target whose last connection found no health service (a restart of a guide
      // service, say) gets its Call sent together with the Check: the Check still decides,
      // but its UNIMPLEMENTED no longer costs a round trip of its own before the Call.
      const callAlongside = type === 'auto' && this.withoutHealthService.has(key) ? sentAlongside(modules, kept.client, deadlineMs, options, context) : undefined
      outcome = await modules.probeHealth(kept.client, deadlineMs, options, context).catch((error: unknown) => {
        callAlongside?.cancel()
        throw error
      })
      if (outcome.unimplemented) {
        kept.noHealthService = true
        this.withoutHealthService.add(key)
        outcome =
          type === 'auto'
            ? await (callAlongside?.outcome ?? modules.probeCall(kept.client, deadlineMs, options, context))
            : {status: 'PROTOCOL_ERROR', method: 'grpc', reason: 'the service does not implement grpc.health.v1.Health'}
        if (outcome.explain) outcome = await outcome.explain()
      } else {
        callAlongside?.cancel()
        if (outcome.status === 'SERVING' || outcome.status === 'NOT_SERVING') this.withoutHealthService.delete(key)
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
    // A channel that failed is closed at once, with whatever it was still connecting: the
    // next probe opens a new one, after the dial guard.
    if (!ANSWERED.has(outcome.status)) this.drop(target)
    return finish(outcome)
  }

  /**
   * One set of credentials (one TLS context) per certificate set as it is on disk: the
   * services of a manifest mostly share one, and a context per channel costs memory in
   * the daemon for nothing (some 40 KiB and 1 ms each). The files are read again only when
   * the stamp changes (a file rewritten or replaced), not for every channel opened. A
   * reading under way is shared: the first probes of a start all ask at once, and before
   * it was, each of them made a context of its own (forty in a cold start of forty), which
   * its channel then kept.
   */
  private credentialsFor(target: ProbeTarget, stamp: string, modules: GrpcModules): Promise<ChannelTls> {
    const files = JSON.stringify([target.certs.ca, target.certs.clientCert, target.certs.clientKey])
    const known = this.credentials.get(files)
    if (known?.stamp === stamp) return known.tls
    const tls = modules.readClientPem(target.certs).then((pem) => ({pem, secureContext: modules.clientSecureContext(pem, target.certs)}))
    const entry = {stamp, tls}
    this.credentials.set(files, entry)
    // A set that cannot be read or used is read again by the next probe, which says why anew.
    tls.catch(() => {
      if (this.credentials.get(files) === entry) this.credentials.delete(files)
    })
    return tls
  }

  /** What an earlier daemon learnt: the target's last connection found no grpc.health.v1. */
  expectNoHealthService(target: ProbeTarget): void {
    this.withoutHealthService.add(channelKey(target))
  }

  /** The channel kept for a target, if a probe opened one; the same object until it is dropped. */
  clientFor(target: ProbeTarget): Http2GrpcChannel | undefined {
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
    this.credentials.clear()
  }
}

/** A Call probe sent now, to be read or cancelled once the health Check sent beside it has answered. */
function sentAlongside(modules: GrpcModules, client: Http2GrpcChannel, deadlineMs: number, options: ProbeOptions, context: FailureContext) {
  const cancelled = new AbortController()
  // Forwarded by hand rather than with AbortSignal.any, which on Node 20 keeps a reference
  // in the caller's long-lived signal for every signal made from it.
  const forget = onAbort(options.signal, () => cancelled.abort(options.signal?.reason))
  const outcome = modules.probeCall(client, deadlineMs, {...options, signal: cancelled.signal}, context, {explainLater: true})
  // Read only when the Check says UNIMPLEMENTED; a cancelled one rejects, and nobody waits for it.
  outcome.catch(() => undefined).finally(forget)
  return {outcome, cancel: () => cancelled.abort()}
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
