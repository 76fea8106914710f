// The job every supervisor is measured on: N services written to the platform's guide
// (Python, grpcio, mTLS with client certificates required, no health service), each on a
// fixed port, in a temporary folder with a certificate set and the generated stubs. The
// harness's own view of them: a listener in the kernel's table, and an answer to one
// end-of-stream frame on Call over mTLS.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {REPO} from './project.js'
import {killProcesses, listeningAmong, portsQuiet, processesInside, sleep, waitFor} from './processes.js'

/** Debian's interpreter, which has python3-grpcio and python3-grpc-tools. */
export const PYTHON = '/usr/bin/python3'
const GUIDE_SERVER = join(REPO, 'test/fixtures/python/guide_server.py')

export class GuideJob {
  constructor({services, firstPort}) {
    this.dir = mkdtempSync(join(tmpdir(), 'qm-peers-'))
    this.names = Array.from({length: services}, (_, i) => `s${String(i + 1).padStart(2, '0')}`)
    this.ports = this.names.map((_, i) => firstPort + i)
    this.stubs = join(this.dir, 'stubs')
    this.certDir = join(this.dir, 'certs')
    this.startsLog = join(this.dir, 'python-starts.log')
    this.env = {...process.env, NO_COLOR: '1', PYTHONPATH: this.stubs, PYTHONDONTWRITEBYTECODE: '1'}
    delete this.env.QM_MANIFEST
  }

  /** Why the job cannot run here, or undefined. */
  static missing() {
    const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools.protoc'], {encoding: 'utf8'})
    return probe.status === 0 ? undefined : `${PYTHON} cannot import grpc and grpc_tools (apt-get install python3-grpcio python3-grpc-tools python3-pkg-resources)`
  }

  async create() {
    const [{createCertificateSet, writeCertificateSet}, {certPaths}] = await Promise.all([import('../../dist/certs/issue.js'), import('../../dist/manifest/resolve.js')])
    this.certs = certPaths(this.certDir)
    await writeCertificateSet(this.certs.dir, await createCertificateSet())
    mkdirSync(this.stubs)
    const protoc = spawnSync(PYTHON, ['-m', 'grpc_tools.protoc', '-I', join(REPO, 'proto'), `--python_out=${this.stubs}`, `--grpc_python_out=${this.stubs}`, join(REPO, 'proto/microservice.proto')], {encoding: 'utf8'})
    if (protoc.status !== 0) throw new Error(`cannot generate the stubs: ${protoc.stderr}`)
    // Python runs sitecustomize from its path as it starts, before the service's own code: the
    // harness's mark of when a process began, under every supervisor alike, so that a respawn
    // splits into the supervisor's part (kill to a new process) and the service's own start.
    // It takes the place of Debian's, which installs apport's hook where apport is installed.
    writeFileSync(
      join(this.stubs, 'sitecustomize.py'),
      `import os, time\nwith open(${JSON.stringify(this.startsLog)}, 'a') as log:\n    log.write('%d %.3f\\n' % (os.getpid(), time.time() * 1000))\n`,
    )
    const {ProbeChannels} = await import('../../dist/health/probe.js')
    this.channels = new ProbeChannels()
  }

  /** The argv of service i, with the six standard arguments, as every supervisor runs it. */
  argv(i) {
    return [
      PYTHON, GUIDE_SERVER,
      '--port', String(this.ports[i]),
      '--ca-cert', this.certs.ca,
      '--server-cert', this.certs.serverCert,
      '--server-key', this.certs.serverKey,
      '--max-workers', '10',
      '--log-level', 'INFO',
    ]
  }

  /**
   * Resolves with the ms (from `sinceMs`) at which the service on `port` first answered.
   * The probe dials only a port the kernel shows listening: these ports lie in Linux's
   * ephemeral range, where dialling a closed port can connect a socket to itself.
   */
  async answered(port, sinceMs, timeoutMs = 60_000) {
    const target = {host: '127.0.0.1', port, certs: this.certs}
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const {result} = await this.channels.attempt(target, {timeoutMs: 2000, type: 'auto'}, {listenerCacheMs: 2})
      if (result.status === 'SERVING') return performance.now() - sinceMs
      if (performance.now() > deadline) throw new Error(`port ${port} did not answer within ${timeoutMs} ms: ${result.status} ${result.reason ?? ''}`)
      await sleep(10)
    }
  }

  /** The pid of the Python process that began last, as its sitecustomize wrote it; undefined before any. */
  lastStarted() {
    const last = this.starts().at(-1)
    return last?.pid
  }

  /** When process `pid` began running Python (epoch ms), as its sitecustomize wrote it; undefined if it did not. */
  processBegan(pid) {
    return this.starts().findLast((start) => start.pid === pid)?.atMs
  }

  /** Every start its sitecustomize wrote, oldest first: [{pid, atMs}]. */
  starts() {
    let text
    try {
      text = readFileSync(this.startsLog, 'utf8')
    } catch {
      return []
    }
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [pid, atMs] = line.split(' ')
        return {pid: Number(pid), atMs: Number(atMs)}
      })
  }

  /** Ms from `sinceMs` until every service answered. */
  async allAnswered(sinceMs) {
    const times = await Promise.all(this.ports.map((port) => this.answered(port, sinceMs)))
    return Math.max(...times)
  }

  /** Ms from `sinceMs` until no service port has a listener. */
  async allClosed(sinceMs, timeoutMs = 30_000) {
    await waitFor(() => listeningAmong(this.ports).length === 0, {timeoutMs, pauseMs: 2, what: 'every service port to close'})
    const closedMs = performance.now() - sinceMs
    for (const port of this.ports) this.channels.drop({host: '127.0.0.1', port, certs: this.certs})
    return closedMs
  }

  /** Before a supervisor starts: nothing listens, and nothing but TIME_WAIT holds a port. */
  async quiet() {
    await waitFor(() => portsQuiet(this.ports), {timeoutMs: 30_000, pauseMs: 50, what: `ports ${this.ports[0]}–${this.ports.at(-1)} to be quiet`})
  }

  cleanup() {
    this.channels?.close()
    killProcesses(processesInside(this.dir))
    rmSync(this.dir, {recursive: true, force: true})
  }
}
