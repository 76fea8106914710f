// `qm call`: one quantra.MicroService/Call over mTLS with qm's client pair. Sends the
// request frames, half-closes, and hands each response frame to the caller as it arrives;
// succeeds when an end-of-stream frame came and no error frame did.
import * as grpc from '@grpc/grpc-js'
import {QmError, UsageError, type ErrorCode} from '../errors.js'
import {readClientPem} from '../grpc/client-credentials.js'
import {channelOptions, clientCredentials, metadataLookup} from '../grpc/grpc-js-channel.js'
import {channelTarget, formatHostPort, planDial} from '../grpc/dial-guard.js'
import {explainFailure} from '../grpc/failure-reason.js'
import {CALL_PATH, callMethod, type Frame} from '../grpc/protos.js'
import {readVersion} from '../grpc/version-metadata.js'
import {resolveCallTarget, type CallTarget, type TargetRequest} from '../grpc/target.js'

export const DEFAULT_CALL_URL = 'qm://call'

/** A response frame: its payload, and the payload parsed when it is JSON. */
export interface ReceivedFrame {
  payload: string
  json?: unknown
}

export interface CallResult {
  target: string
  host: string
  port: number
  /** Response frames received, error frames included. */
  frames: number
  version?: string
  latencyMs: number
}

export interface CallOptions {
  /** Request payloads, sent in order before the half-close. */
  payloads: string[]
  timeoutMs: number
  onFrame?: (frame: ReceivedFrame) => void
}

/** The command's request: what to call and the frame flags, unparsed. */
export interface CallRequest extends TargetRequest {
  data?: string
  frame?: string
  url?: string
  timeoutMs: number
  onFrame?: (frame: ReceivedFrame) => void
}

export class CallFailedError extends QmError {
  constructor(message: string, code: ErrorCode, hint?: string) {
    super(message, 1, code, hint)
  }
}

export async function runCall(req: CallRequest): Promise<CallResult> {
  const payload = requestPayload(req)
  const target = await resolveCallTarget(req)
  return callService(target, {payloads: [payload], timeoutMs: req.timeoutMs, ...(req.onFrame ? {onFrame: req.onFrame} : {})})
}

/**
 * The one request frame: --frame as given (oauth2.url replaced when --url is set), else
 * the records of --data (default none) in an end-of-stream frame.
 */
export function requestPayload(req: Pick<CallRequest, 'data' | 'frame' | 'url'>): string {
  if (req.frame !== undefined && req.data !== undefined) throw new UsageError('--data and --frame cannot be used together', '--data takes the records, --frame the whole frame')
  if (req.frame !== undefined) {
    const frame = parseJson(req.frame, '--frame')
    if (!isObject(frame)) throw new UsageError(`--frame must be a JSON object, got ${kind(frame)}`, `e.g. --frame '{"data": [], "eos": true}'`)
    if (req.url !== undefined) frame.oauth2 = {...(isObject(frame.oauth2) ? frame.oauth2 : {}), url: req.url}
    return JSON.stringify(frame)
  }
  const data = req.data === undefined ? [] : parseJson(req.data, '--data')
  const example = `e.g. --data '[{"meta": {"filename": "a.txt"}, "content": {"text": "hello"}}]'`
  if (!Array.isArray(data)) throw new UsageError(`--data must be a JSON array of records, got ${kind(data)}`, example)
  const bad = data.findIndex((record) => !isObject(record))
  if (bad >= 0) throw new UsageError(`--data must be a JSON array of records, but item ${bad} is ${kind(data[bad])}`, example)
  return JSON.stringify({oauth2: {url: req.url ?? DEFAULT_CALL_URL}, data, tod: 'object', eos: true})
}

export async function callService(target: CallTarget, options: CallOptions): Promise<CallResult> {
  const address = formatHostPort(target.host, target.port)
  const where = target.label === address ? address : `${target.label} (${address})`
  const plan = await planDial(target.host, target.port)
  if (!plan.dial) throw new CallFailedError(`${where}: ${plan.reason}`, 'UNREACHABLE', 'is the service running? qm status shows it')
  const pem = await readClientPem(target.certs)
  const client = new grpc.Client(channelTarget(plan.address, target.port), clientCredentials(pem, target.certs), {
    ...channelOptions(target.serverName),
    // A call that failed says so; a transparent retry would send the frames twice.
    'grpc.enable_retries': 0,
  })
  const startedMs = performance.now()
  try {
    const outcome = await exchange(client, options)
    const {status, headers, frames, eos, errors, notJson} = outcome
    const version = readVersion(undefined, metadataLookup(headers), metadataLookup(status?.metadata))
    if (!eos && status && status.code !== grpc.status.OK) {
      if (status.code === grpc.status.DEADLINE_EXCEEDED && frames > 0) {
        throw new CallFailedError(`${where}: no end-of-stream frame within ${Math.round(options.timeoutMs)} ms (${frames} frame(s) received)`, 'TIMEOUT', 'a longer --timeout gives a slow service more time')
      }
      if (status.code === grpc.status.UNIMPLEMENTED) {
        throw new CallFailedError(`${where}: the service does not implement quantra.MicroService/Call`, 'PROTOCOL_ERROR')
      }
      const failure = await explainFailure(status, 'quantra.MicroService/Call', {
        target: {host: target.host, port: target.port, certs: target.certs, serverName: target.serverName},
        serverName: target.serverName,
        address: plan.address,
        local: plan.local,
        connected: () => client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY,
        pem,
        timeoutMs: options.timeoutMs,
      })
      // explainFailure never says SERVING of a failed RPC.
      throw new CallFailedError(`${where}: ${failure.reason ?? failure.status}`, failure.status === 'SERVING' ? 'NOT_SERVING' : failure.status)
    }
    if (notJson > 0) throw new CallFailedError(`${where}: ${notJson} of ${frames} response frame(s) are not JSON objects`, 'PROTOCOL_ERROR')
    if (errors.length > 0) {
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
      throw new CallFailedError(`${where} answered with an error frame: ${errors[0]}${more}`, 'ERROR_FRAME')
    }
    if (!eos) throw new CallFailedError(`${where} ended the stream without an end-of-stream frame (${frames} frame(s) received)`, 'NO_EOS')
    return {
      target: target.label,
      host: target.host,
      port: target.port,
      frames,
      ...(version ? {version} : {}),
      latencyMs: Math.round((performance.now() - startedMs) * 100) / 100,
    }
  } finally {
    client.close()
  }
}

interface Exchange {
  status?: grpc.StatusObject
  headers?: grpc.Metadata
  frames: number
  eos: boolean
  errors: string[]
  notJson: number
}

/** How long the trailers may take after the end-of-stream frame before the call is cancelled. */
const TRAILERS_AFTER_EOS_MS = 1_000

function exchange(client: grpc.Client, options: CallOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    const result: Exchange = {frames: 0, eos: false, errors: [], notJson: 0}
    const call = client.makeBidiStreamRequest<Frame, Frame>(CALL_PATH, callMethod.requestSerialize, callMethod.responseDeserialize, new grpc.Metadata(), {
      deadline: Date.now() + options.timeoutMs,
    })
    let trailersTimer: NodeJS.Timeout | undefined
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(trailersTimer)
      resolve(result)
    }
    call.on('metadata', (headers) => {
      result.headers = headers
    })
    call.on('data', (frame: Frame) => {
      if (done) return
      result.frames++
      let json: unknown
      try {
        json = JSON.parse(frame.payload)
      } catch {
        // Not JSON: shown as the text it is, and counted against the service.
      }
      options.onFrame?.(json === undefined ? {payload: frame.payload} : {payload: frame.payload, json})
      if (!isObject(json)) {
        result.notJson++
        return
      }
      if (json.error !== undefined) result.errors.push(typeof json.error === 'string' ? json.error : JSON.stringify(json.error))
      if (json.eos === true && !result.eos) {
        result.eos = true
        trailersTimer = setTimeout(() => {
          call.cancel()
          finish()
        }, TRAILERS_AFTER_EOS_MS)
      }
    })
    call.on('status', (status) => {
      result.status = status
      finish()
    })
    call.on('error', () => {
      // Every failure also arrives as 'status', which is what the result reads.
    })
    for (const payload of options.payloads) call.write({payload})
    // Half-close: a guide servicer's `for request_frame in request_iterator` then ends.
    call.end()
  })
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`${flag} is not JSON: ${(err as Error).message}`)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
