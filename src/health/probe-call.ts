// The Call probe, for services written to the guide, which serve no health service: one
// end-of-stream frame on quantra.MicroService/Call, SERVING when the service answers with
// its own end-of-stream frame.
import type {Http2GrpcChannel, IncomingHttpHeaders} from '../grpc/h2-channel.js'
import {headerLookup, readVersion} from '../grpc/version-metadata.js'
import {explainFailure, type FailureContext} from '../grpc/failure-reason.js'
import {CALL_PATH, callMethod} from '../grpc/protos.js'
import {GrpcStatus} from '../grpc/status-codes.js'
import type {ProbeOptions} from '../grpc/types.js'
import {DEFAULT_OAUTH2_URL} from '../manifest/defaults.js'
import {excerpt, onAbort, type Outcome} from './probe-outcome.js'

/** How long a Call probe waits for trailers after the end-of-stream frame, for a version. */
const TRAILER_WAIT_MS = 250

/**
 * `explainLater`: a failure comes back at once with its explanation as `explain`, for a Call
 * sent beside a Check that may well make it moot (probe.ts).
 */
export async function probeCall(
  channel: Http2GrpcChannel,
  deadlineMs: number,
  options: ProbeOptions,
  context: FailureContext,
  {explainLater = false}: {explainLater?: boolean} = {},
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let headers: IncomingHttpHeaders | undefined
    let settled = false
    let eosAtMs: number | undefined
    let trailerWait: NodeJS.Timeout | undefined
    const settle = (outcome: Outcome, cancel: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(trailerWait)
      stop()
      // Cancelling a call that already ended does nothing.
      if (cancel) call.cancel()
      resolve(outcome)
    }
    const onFrame = (message: Buffer) => {
      if (settled || eosAtMs !== undefined) return
      let payload: string
      let parsed: unknown
      try {
        payload = callMethod.responseDeserialize(message).payload
      } catch (error) {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: `quantra.MicroService/Call answered with a message qm cannot decode: ${(error as Error).message}`}, true)
        return
      }
      try {
        parsed = JSON.parse(payload)
      } catch {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: `Call answered with a frame that is not JSON: ${excerpt(payload)}`}, true)
        return
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        settle({status: 'PROTOCOL_ERROR', method: 'call', reason: `Call answered with a frame that is not a JSON object: ${excerpt(payload)}`}, true)
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
      const version = readVersion(options.versionKeys, headerLookup(headers), undefined)
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
    }
    // One end-of-stream frame, then the half-close: a guide servicer's `for request_frame in
    // request_iterator` then ends, and the call finishes with its trailers instead of
    // waiting for the deadline.
    const request = callMethod.requestSerialize({payload: endOfStreamFrame(options.oauth2Url ?? DEFAULT_OAUTH2_URL)})
    const call = channel.call(CALL_PATH, request, deadlineMs, {
      onHeaders: (received) => {
        headers = received
      },
      onMessage: onFrame,
      onStatus: (status, trailers) => {
        if (settled) return
        const version = readVersion(options.versionKeys, headerLookup(headers), headerLookup(trailers))
        if (eosAtMs !== undefined) {
          settle({status: 'SERVING', method: 'call', answeredAtMs: eosAtMs, ...(version ? {version} : {})}, false)
        } else if (status.code === GrpcStatus.OK) {
          settle({status: 'PROTOCOL_ERROR', method: 'call', reason: 'Call ended without an end-of-stream frame'}, false)
        } else if (status.code === GrpcStatus.UNIMPLEMENTED) {
          settle({status: 'PROTOCOL_ERROR', method: 'call', unimplemented: true}, false)
        } else {
          settled = true
          stop()
          const explain = () =>
            explainFailure(status, 'quantra.MicroService/Call', context).then((failure): Outcome => ({...failure, method: 'call', ...(version ? {version} : {})}))
          if (explainLater) resolve({status: 'UNREACHABLE', method: 'call', explain})
          else void explain().then(resolve, reject)
        }
      },
    })
    const stop = onAbort(options.signal, () => {
      settled = true
      clearTimeout(trailerWait)
      call.cancel()
      reject(options.signal?.reason)
    })
  })
}

function endOfStreamFrame(oauth2Url: string): string {
  return JSON.stringify({oauth2: {url: oauth2Url}, data: [], tod: 'object', eos: true})
}
