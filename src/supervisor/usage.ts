// What `qm status` shows of one instance: its record, with CPU and memory sampled from
// /proc, and health only for a process that is there.
import {serviceLogTail} from './log-files.js'
import {cpuPercent, sampleUsage} from './proc.js'
import type {ServiceRecord} from './service-record.js'
import {LIVE_STATES, type InstanceStatus} from './states.js'

// Two samples closer than this give a CPU figure that is mostly noise.
const MIN_SAMPLE_GAP_MS = 200

export function instanceStatus(r: ServiceRecord): InstanceStatus {
  const nowMs = r.clock.nowMs()
  const pid = r.process?.pid ?? null
  let cpu: number | null = null
  let memory: number | null = null
  if (pid !== null) {
    const sample = sampleUsage(pid, nowMs)
    if (sample) {
      memory = sample.rssBytes
      const previous = r.usage && nowMs - r.usage.atMs >= MIN_SAMPLE_GAP_MS ? r.usage : undefined
      const lifetime = {cpuSeconds: 0, rssBytes: 0, atMs: r.process!.startedAtMs}
      cpu = Math.round(cpuPercent(previous ?? lifetime, sample) * 10) / 10
      if (!r.usage || nowMs - r.usage.atMs >= MIN_SAMPLE_GAP_MS) r.usage = sample
    }
  }
  // A probe result says something only about a process that is there.
  const probe = LIVE_STATES.has(r.state) ? r.lastProbe : undefined
  const failed = r.state === 'fatal' || r.state === 'backoff' || r.state === 'exited'
  return {
    name: r.name,
    service: r.service.name,
    state: r.state,
    pid,
    port: r.port ?? null,
    health: probe ? {status: probe.status, latencyMs: probe.latencyMs, method: probe.method, ...(probe.reason ? {reason: probe.reason} : {}), ...(probe.cause ? {cause: probe.cause} : {})} : null,
    version: probe?.version ?? null,
    expectedVersion: r.service.expectedVersion ?? null,
    uptimeMs: r.process && (r.state === 'running' || r.state === 'unhealthy') ? nowMs - r.process.startedAtMs : null,
    restarts: r.restarts,
    cpuPercent: cpu,
    memoryBytes: memory,
    lastExit: r.lastExit ?? null,
    detail: r.detail ?? null,
    drainLeftMs: r.state === 'draining' && r.drainEndsAtMs !== undefined ? Math.max(0, r.drainEndsAtMs - nowMs) : null,
    lastLogLine: failed ? (serviceLogTail(r.logFile, 1)[0] ?? null) : null,
  }
}
