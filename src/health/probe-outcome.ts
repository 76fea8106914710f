// What one probe RPC found, and the small helpers every kind of probe shares.
import type {ProbeResult} from '../grpc/types.js'

/**
 * What one RPC found, before the probe adds latency and decides whether to fall back. A
 * failure may come with `explain`, the work of finding out why (socket table reads, a TLS
 * inspection), left to whoever uses the outcome.
 */
export type Outcome = Omit<ProbeResult, 'latencyMs'> & {unimplemented?: boolean; answeredAtMs?: number; explain?: () => Promise<Outcome>}

export function onAbort(signal: AbortSignal | undefined, action: () => void): () => void {
  if (!signal) return () => {}
  signal.addEventListener('abort', action, {once: true})
  return () => signal.removeEventListener('abort', action)
}

export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 80)}…` : flat)
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
