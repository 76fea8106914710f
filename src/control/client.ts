// The CLI's end of the control socket: one connection, requests with ids, events
// passed to a callback, errors rebuilt as QmError with the daemon's message and code.
import {connect, type Socket} from 'node:net'
import {qmErrorFromJSON} from '../errors.js'
import type {ContractEvent, Method, Params, Result} from './contract.js'
import {encode, LineReader, type Reply} from './protocol.js'

interface Pending {
  resolve: (value: never) => void
  reject: (error: Error) => void
  onEvent?: (event: ContractEvent) => void
}

export class ControlClient {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    const reader = new LineReader(
      (line) => this.receive(line),
      () => this.failAll(new Error('the daemon sent an oversized message')),
    )
    socket.on('data', (chunk: string) => reader.push(chunk))
    socket.on('error', (error) => this.failAll(error))
    socket.on('close', () => this.failAll(new Error('the daemon closed the connection')))
  }

  /** Rejects with the socket error (ENOENT, ECONNREFUSED) when no daemon listens. */
  static connect(socketPath: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath)
      socket.once('connect', () => {
        socket.removeListener('error', reject)
        resolve(new ControlClient(socket))
      })
      socket.once('error', reject)
    })
  }

  /** One call of the contract; the events a start, stop, restart or reload streams go to onEvent. */
  request<M extends Method>(method: M, params: Params<M>, onEvent?: (event: ContractEvent) => void): Promise<Result<M>> {
    const id = this.nextId++
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, {resolve: resolve as (value: never) => void, reject, ...(onEvent ? {onEvent} : {})})
      this.socket.write(encode({id, method, params}))
    })
  }

  close(): void {
    this.socket.end()
    this.socket.destroy()
  }

  private receive(line: string): void {
    let reply: Reply
    try {
      reply = JSON.parse(line) as Reply
    } catch {
      this.failAll(new Error('the daemon sent a line that is not JSON'))
      return
    }
    const pending = this.pending.get(reply.id)
    if (!pending) return
    if ('event' in reply) {
      pending.onEvent?.(reply.event as ContractEvent)
      return
    }
    this.pending.delete(reply.id)
    if ('error' in reply) pending.reject(qmErrorFromJSON(reply.error))
    // The daemon answers with its method's Result: the contract it serves from its table.
    else pending.resolve(reply.result as never)
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}
