// Ports held by another process, not the test's own: a child that listens on the port or
// has a connection from it (killed when the test ends), or a TIME_WAIT left on it.
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {onTestFinished} from 'vitest'
import {FIXTURES} from './project.js'
import {PYTHON} from './services.js'

export interface HeldPort {
  pid: number
  /** The holder's command line as /proc shows it. */
  command: string
}

export async function holdPort(port: number, mode: 'listen' | 'connect'): Promise<HeldPort> {
  const script = join(FIXTURES, 'hold-port.mjs')
  const child = spawn(process.execPath, [script, mode, String(port)], {stdio: ['ignore', 'pipe', 'pipe']})
  onTestFinished(() => {
    child.kill('SIGKILL')
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hold-port.mjs ${mode} ${port} printed no HOLDING line within 10 s; output: ${output}`)), 10_000)
    const take = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes(`HOLDING ${port}`)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hold-port.mjs ${mode} ${port} exited with ${code}: ${output}`))
    })
  })
  return {pid: child.pid!, command: `${process.execPath} ${script} ${mode} ${port}`}
}

/**
 * Leaves a TIME_WAIT on the port the way a poller dialling into the ephemeral range does:
 * a socket bound to it without SO_REUSEADDR (Python's default; Node sets the flag) that
 * connects to itself. The kernel keeps it 60 s, and a service's bind fails meanwhile.
 */
export function selfConnect(port: number): void {
  const result = spawnSync(
    PYTHON,
    ['-c', `import socket\ns = socket.socket()\ns.bind(("127.0.0.1", ${port}))\ns.connect(("127.0.0.1", ${port}))\ns.close()`],
    {encoding: 'utf8'},
  )
  if (result.status !== 0) throw new Error(`${PYTHON} could not connect port ${port} to itself: ${result.error?.message ?? result.stderr}`)
}
