// The tcp probe: the port accepts a connection, nothing more.
import {connect as tcpConnect} from 'node:net'
import {onAbort, type Outcome} from './probe-outcome.js'

export function probeTcp(address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> {
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
