// One line of `qm events`, as docker events prints them: the time first, then what
// happened to which instance, its pid, and why.
import type {ChalkInstance} from 'chalk'
import type {ProbeEvent, Transition} from '../supervisor/states.js'
import {stateColour} from './service-report.js'

export function transitionEventLine(c: ChalkInstance, t: Transition): string {
  return `${c.dim(new Date(t.atMs).toISOString())}  ${c.bold(t.name)}  ${stateColour(c, t.from)} → ${stateColour(c, t.to)}${t.pid === undefined ? '' : `  pid ${t.pid}`}  ${c.dim(t.cause)}`
}

export function probeEventLine(c: ChalkInstance, p: ProbeEvent): string {
  const status = p.status === 'SERVING' ? c.green(p.status) : c.red(p.status)
  const via = p.method === 'grpc' ? 'grpc.health.v1' : p.method === 'call' ? 'Call' : 'tcp'
  return `${c.dim(new Date(p.atMs).toISOString())}  ${c.bold(p.name)}  probe ${status} in ${p.latencyMs.toFixed(1)} ms via ${via}${p.pid === undefined ? '' : `  pid ${p.pid}`}${p.reason ? `  ${c.dim(p.reason)}` : ''}`
}
