// What one instance has been through since the daemon started, counted for `qm metrics`:
// restarts by why, probe failures by why, and probe latency by method as a histogram.
// Plain numbers kept on the record; the metrics library reads them only when scraped.
import type {ProbeMethod, ProbeResult} from '../grpc/types.js'

export type RestartReason = 'crash' | 'liveness' | 'operator' | 'reload'

/** Why a probe failed, in the words of a label: which side of a TLS failure, too. */
export type ProbeFailureReason = 'refused' | 'timeout' | 'tls_qm_side' | 'tls_service_side' | 'not_serving' | 'protocol'

/** Upper bounds, in seconds: a probe on a kept channel takes about a millisecond; one that reconnects, tens. */
export const PROBE_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface LatencyHistogram {
  /** Observations at or below each bound of PROBE_BUCKETS_SECONDS (cumulative, as Prometheus counts them). */
  buckets: number[]
  sum: number
  count: number
}

export function probeFailureReason(probe: ProbeResult): ProbeFailureReason | undefined {
  switch (probe.status) {
    case 'SERVING':
      return undefined
    case 'UNREACHABLE':
      return 'refused'
    case 'TIMEOUT':
      return 'timeout'
    case 'TLS_ERROR':
      return probe.cause === 'qm-credentials' ? 'tls_qm_side' : 'tls_service_side'
    case 'NOT_SERVING':
      return 'not_serving'
    case 'PROTOCOL_ERROR':
      return 'protocol'
  }
}

export class ServiceTally {
  readonly restarts = new Map<RestartReason, number>()
  readonly probeFailures = new Map<ProbeFailureReason, number>()
  readonly probeLatency = new Map<ProbeMethod, LatencyHistogram>()

  restarted(reason: RestartReason): void {
    this.restarts.set(reason, (this.restarts.get(reason) ?? 0) + 1)
  }

  probed(probe: ProbeResult): void {
    const failure = probeFailureReason(probe)
    if (failure) this.probeFailures.set(failure, (this.probeFailures.get(failure) ?? 0) + 1)
    const seconds = probe.latencyMs / 1000
    let histogram = this.probeLatency.get(probe.method)
    if (!histogram) {
      histogram = {buckets: PROBE_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0}
      this.probeLatency.set(probe.method, histogram)
    }
    PROBE_BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound) histogram.buckets[i]!++
    })
    histogram.sum += seconds
    histogram.count++
  }
}

/** One instance as `qm metrics` shows it. */
export interface InstanceMetrics {
  name: string
  service: string
  state: string
  /** Running, and its last probe answered SERVING. */
  up: boolean
  version: string | null
  expectedVersion: string | null
  restarts: Partial<Record<RestartReason, number>>
  probeFailures: Partial<Record<ProbeFailureReason, number>>
  probeLatency: Partial<Record<ProbeMethod, LatencyHistogram>>
  /** Of its current process; null when none runs. */
  cpuSeconds: number | null
  residentBytes: number | null
}
