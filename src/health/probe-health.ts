// grpc.health.v1 Check over a kept channel: SERVING, NOT_SERVING, or UNIMPLEMENTED (the
// guide's services), which sends an `auto` probe on to Call.
import type {Http2GrpcChannel, IncomingHttpHeaders} from '../grpc/h2-channel.js'
import {headerLookup, readVersion} from '../grpc/version-metadata.js'
import {explainFailure, type FailureContext} from '../grpc/failure-reason.js'
import {HEALTH_CHECK_PATH, healthCheckMethod, type HealthCheckResponse} from '../grpc/protos.js'
import {GrpcStatus} from '../grpc/status-codes.js'
import type {ProbeOptions} from '../grpc/types.js'
import {onAbort, type Outcome} from './probe-outcome.js'

export async function probeHealth(channel: Http2GrpcChannel, deadlineMs: number, options: ProbeOptions, context: FailureContext): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let headers: IncomingHttpHeaders | undefined
    let response: HealthCheckResponse | undefined
    let undecodable: string | undefined
    const call = channel.call(HEALTH_CHECK_PATH, healthCheckMethod.requestSerialize({service: options.healthService ?? ''}), deadlineMs, {
      onHeaders: (received) => {
        headers = received
      },
      onMessage: (message) => {
        try {
          response = healthCheckMethod.responseDeserialize(message)
        } catch (error) {
          undecodable = (error as Error).message
        }
      },
      onStatus: (status, trailers) => {
        stop()
        if (options.signal?.aborted) return
        const version = readVersion(options.versionKeys, headerLookup(headers), headerLookup(trailers))
        if (status.code === GrpcStatus.OK && undecodable !== undefined) {
          resolve({status: 'PROTOCOL_ERROR', method: 'grpc', reason: `grpc.health.v1.Health/Check answered with a message qm cannot decode: ${undecodable}`})
          return
        }
        if (status.code === GrpcStatus.OK && response) {
          const serving = response.status === 'SERVING'
          resolve({
            status: serving ? 'SERVING' : 'NOT_SERVING',
            method: 'grpc',
            ...(version ? {version} : {}),
            ...(serving ? {} : {reason: `the service reports ${response.status} on grpc.health.v1`}),
          })
          return
        }
        if (status.code === GrpcStatus.UNIMPLEMENTED) {
          resolve({status: 'PROTOCOL_ERROR', method: 'grpc', unimplemented: true})
          return
        }
        if (status.code === GrpcStatus.OK) {
          resolve({status: 'PROTOCOL_ERROR', method: 'grpc', reason: 'grpc.health.v1.Health/Check ended without a response message'})
          return
        }
        void explainFailure(status, 'grpc.health.v1.Health/Check', context).then((failure) => resolve({...failure, method: 'grpc', ...(version ? {version} : {})}), reject)
      },
    })
    const stop = onAbort(options.signal, () => {
      call.cancel()
      reject(options.signal?.reason)
    })
  })
}
