// grpc.health.v1 Check over a kept channel: SERVING, NOT_SERVING, or UNIMPLEMENTED (the
// guide's services), which sends an `auto` probe on to Call.
import * as grpc from '@grpc/grpc-js'
import {readVersion} from '../grpc/version-metadata.js'
import {explainFailure, type FailureContext} from '../grpc/failure-reason.js'
import {HEALTH_CHECK_PATH, healthCheckMethod, type HealthCheckResponse} from '../grpc/protos.js'
import type {ProbeOptions} from '../grpc/types.js'
import {onAbort, wallDeadline, type Outcome} from './probe-outcome.js'

export async function probeHealth(
  client: grpc.Client,
  deadlineMs: number,
  options: ProbeOptions,
  context: FailureContext,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let headers: grpc.Metadata | undefined
    let response: HealthCheckResponse | undefined
    const call = client.makeUnaryRequest(
      HEALTH_CHECK_PATH,
      healthCheckMethod.requestSerialize,
      healthCheckMethod.responseDeserialize,
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
