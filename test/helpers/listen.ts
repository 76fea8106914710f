// A foreign process's listening socket, stood in for by one in the test process.
import {createServer, type Server} from 'node:net'
import {onTestFinished} from 'vitest'

export async function listenOn(port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return server
}

/** A port the OS says is free now, for tests that need a range of their own. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port from the OS')
  return address.port
}
