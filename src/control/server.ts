// The daemon's end of the control socket: reads requests line by line, hands each to
// the handler, and writes back events and one result or error. A malformed or oversized
// message gets an error reply and never reaches the supervisor.
import {chmodSync, rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {QmError} from '../errors.js'
import {METHODS} from './contract.js'
import {encode, LineReader, MAX_LINE_BYTES, type Method, type Reply, type Request} from './protocol.js'

/** `gone` aborts when the client's connection closes: a request that streams until then (qm events) ends there. */
export type RequestHandler = (request: Request, emit: (event: unknown) => void, gone: AbortSignal) => Promise<unknown>


export async function serveControl(socketPath: string, handle: RequestHandler, onBug: (error: unknown) => void): Promise<Server> {
  // Only a daemon holding the lock gets here, so a socket file left here is a dead daemon's.
  rmSync(socketPath, {force: true})
  const server = createServer((socket) => serveConnection(socket, handle, onBug))
  const previousUmask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => resolve())
    })
  } finally {
    process.umask(previousUmask)
  }
  chmodSync(socketPath, 0o600)
  return server
}

function serveConnection(socket: Socket, handle: RequestHandler, onBug: (error: unknown) => void): void {
  socket.setEncoding('utf8')
  // A start of 40 services is some 120 events; one write per event was a system call each
  // and a wake-up of the command, on a host whose two cores the starting services need.
  // Replies made in one turn of the event loop go out in one write, in order.
  let unsent: string[] = []
  const flush = () => {
    const text = unsent.join('')
    unsent = []
    if (text !== '' && !socket.destroyed && socket.writable) socket.write(text)
  }
  const send = (reply: Reply) => {
    if (unsent.length === 0) setImmediate(flush)
    unsent.push(encode(reply))
  }
  const gone = new AbortController()
  socket.on('close', () => gone.abort())
  const reader = new LineReader(
    (line) => void answer(line, send, (request, emit) => handle(request, emit, gone.signal), onBug),
    () => {
      send({id: 0, error: {code: 'BAD_REQUEST', exitCode: 1, message: `control message longer than ${MAX_LINE_BYTES} bytes`}})
      flush()
      socket.end()
    },
  )
  socket.on('data', (chunk: string) => reader.push(chunk))
  // A client that goes away mid-request is no error of the daemon's.
  socket.on('error', () => socket.destroy())
}

async function answer(line: string, send: (reply: Reply) => void, handle: (request: Request, emit: (event: unknown) => void) => Promise<unknown>, onBug: (error: unknown) => void): Promise<void> {
  let request: Request
  try {
    request = parseRequest(line)
  } catch (error) {
    send({id: idOf(line), error: (error as QmError).toJSON()})
    return
  }
  try {
    const result = await handle(request, (event) => send({id: request.id, event}))
    send({id: request.id, result: result ?? null})
  } catch (error) {
    if (error instanceof QmError) {
      send({id: request.id, error: error.toJSON()})
      return
    }
    onBug(error)
    send({id: request.id, error: {code: 'INTERNAL', exitCode: 1, message: `the daemon failed: ${(error as Error).message}`}})
  }
}

function parseRequest(line: string): Request {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new QmError('control message is not JSON', 1, 'BAD_REQUEST')
  }
  const request = value as Partial<Request>
  if (typeof value !== 'object' || value === null || typeof request.id !== 'number' || !METHODS.has(request.method as Method)) {
    throw new QmError('control message needs a numeric id and a known method', 1, 'BAD_REQUEST')
  }
  const params = (request.params ?? {}) as {names?: unknown}
  if (typeof params !== 'object' || (params.names !== undefined && (!Array.isArray(params.names) || !params.names.every((n) => typeof n === 'string')))) {
    throw new QmError('control message params.names must be a list of names', 1, 'BAD_REQUEST')
  }
  return {id: request.id, method: request.method as Method, params: params as Request['params']}
}

function idOf(line: string): number {
  try {
    const id = (JSON.parse(line) as {id?: unknown}).id
    return typeof id === 'number' ? id : 0
  } catch {
    return 0 // not JSON: no id to answer to
  }
}
