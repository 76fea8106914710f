// The bench's own qm project in a temporary folder: certificates, a manifest of N copies
// of the echo example on a port range of its own, and the qm CLI run there as a user runs
// it. It keeps track of everything it starts so that cleanup() leaves nothing behind.
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {isAlive, killGroup, killProcesses, listeningAmong, portsQuiet, processesInside, sleep, waitFor} from './processes.js'

export const REPO = new URL('../../', import.meta.url).pathname.replace(/\/$/, '')
const QM_BIN = join(REPO, 'bin/run.js')
const ECHO_SERVER = join(REPO, 'dist/examples/echo/server.js')

export class Project {
  constructor({services, firstPort}) {
    this.dir = mkdtempSync(join(tmpdir(), 'qm-bench-'))
    this.names = Array.from({length: services}, (_, i) => `echo${String(i + 1).padStart(2, '0')}`)
    this.ports = this.names.map((_, i) => firstPort + i)
    // One port past qm's range, for the floor's single-service start while qm's 40 run.
    this.sparePort = firstPort + services
    this.command = [process.execPath, ECHO_SERVER]
    const certDir = join(this.dir, 'certs')
    this.certs = {
      ca: join(certDir, 'ca.crt'),
      serverCert: join(certDir, 'server.crt'),
      serverKey: join(certDir, 'server.key'),
      clientCert: join(certDir, 'client.crt'),
      clientKey: join(certDir, 'client.key'),
    }
    this.floorLogDir = join(this.dir, 'floor-logs')
    this.stateDir = join(this.dir, '.qm')
    this.env = {...process.env, NO_COLOR: '1'}
    // The manifest must come from the temp folder, whatever the caller's shell says.
    delete this.env.QM_MANIFEST
    delete this.env.QM_DEBUG
    this.cliRuns = new Set()
    this.floorServices = new Set() // children spawned directly, each leading its own group
    this.closers = new Set() // probe channel sets to close before anything is killed
  }

  /** Refuses to start on ports someone else uses: the figures would be wrong, and their service disturbed. */
  assertPortsFree() {
    const all = [...this.ports, this.sparePort]
    const busy = listeningAmong(all)
    if (busy.length > 0 || !portsQuiet(all)) {
      throw new Error(`ports ${all[0]}–${this.sparePort} are in use${busy.length > 0 ? ` (listening: ${busy.join(' ')})` : ''}; pick others with --first-port`)
    }
  }

  async create() {
    const {createCertificateSet, writeCertificateSet} = await import('../../dist/certs/issue.js')
    await writeCertificateSet(join(this.dir, 'certs'), await createCertificateSet())
    mkdirSync(this.floorLogDir)
    writeFileSync(join(this.dir, 'services.yaml'), this.manifestText())
  }

  manifestText() {
    const first = this.ports[0]
    const last = this.ports[this.ports.length - 1]
    const services = this.names.map((name) => `  ${name}:\n    command: ${JSON.stringify(this.command)}\n`).join('')
    return [
      'version: 1',
      'registry: {path: .qm/registry.sqlite3, table: core_serviceendpoint, host: localhost}',
      `port_range: [${first}, ${last}]`,
      'defaults:',
      '  certs: ./certs',
      '  max_workers: 10',
      '  log_level: INFO',
      'services:',
      services,
    ].join('\n')
  }

  target(port) {
    return {host: 'localhost', port, certs: {ca: this.certs.ca, clientCert: this.certs.clientCert, clientKey: this.certs.clientKey}}
  }

  /** Runs `qm ARGS` in the project folder; resolves with its wall time, exit code and output. */
  qm(args, {timeoutMs = 120_000} = {}) {
    return new Promise((resolve, reject) => {
      const startedMs = performance.now()
      const child = spawn(process.execPath, [QM_BIN, ...args], {cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe']})
      this.cliRuns.add(child)
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk) => (stdout += chunk))
      child.stderr.on('data', (chunk) => (stderr += chunk))
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      child.on('error', reject)
      child.on('close', (code, signal) => {
        const ms = performance.now() - startedMs
        clearTimeout(timer)
        this.cliRuns.delete(child)
        if (signal) reject(new Error(`qm ${args.join(' ')} ended by ${signal} after ${Math.round(ms)} ms\n${stderr}`))
        else resolve({ms, code, stdout, stderr})
      })
    })
  }

  /** `qm ARGS` that must exit with one of `codes`; otherwise throws with what it printed. */
  async qmExpect(args, codes = [0]) {
    const run = await this.qm(args)
    if (!codes.includes(run.code)) {
      throw new Error(`qm ${args.join(' ')} exited ${run.code}:\n${(run.stdout + run.stderr).trim().split('\n').slice(-15).join('\n')}`)
    }
    return run
  }

  async status() {
    return JSON.parse((await this.qmExpect(['status', '--json'], [0, 3])).stdout)
  }

  daemonPid() {
    const file = join(this.stateDir, 'daemon.pid')
    if (!existsSync(file)) return undefined
    const pid = Number(readFileSync(file, 'latin1').trim())
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined
  }

  /** Wall-clock times (ms) of the daemon log's `NAME: FROM → TO` lines. */
  transitionTimes(name, from, to) {
    const file = join(this.stateDir, 'daemon.log')
    if (!existsSync(file)) return []
    const times = []
    const wanted = ` ${name}: ${from} → ${to}`
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const space = line.indexOf(' ')
      if (space > 0 && line.startsWith(wanted, space)) times.push(Date.parse(line.slice(0, space)))
    }
    return times
  }

  trackFloorService(child) {
    this.floorServices.add(child)
    child.on('exit', () => this.floorServices.delete(child))
    return child
  }

  /**
   * Leaves nothing running: probe channels closed, floor services and CLI runs killed,
   * the daemon shut down (or killed), then any process still working inside the folder
   * killed with its group. Safe to call twice and after any failure.
   */
  async cleanup({keep = false} = {}) {
    for (const close of this.closers) close()
    this.closers.clear()
    for (const child of this.cliRuns) child.kill('SIGKILL')
    for (const child of this.floorServices) if (child.pid) killGroup(child.pid)
    if (this.daemonPid()) {
      try {
        await this.qm(['shutdown'], {timeoutMs: 30_000})
      } catch (error) {
        process.stderr.write(`qm shutdown failed during cleanup (the daemon is killed instead): ${error.message}\n`)
      }
    }
    const daemon = this.daemonPid()
    if (daemon) killGroup(daemon)
    for (let attempt = 0; attempt < 3; attempt++) {
      const left = processesInside(this.dir)
      if (left.length === 0) break
      process.stderr.write(`killing ${left.length} process(es) left in ${this.dir}: ${left.join(' ')}\n`)
      killProcesses(left)
      await sleep(200)
    }
    const left = processesInside(this.dir)
    if (!keep && left.length === 0) rmSync(this.dir, {recursive: true, force: true})
    return left
  }

  async waitDaemonGone(timeoutMs = 30_000) {
    await waitFor(() => this.daemonPid() === undefined, {timeoutMs, pauseMs: 10, what: 'the qm daemon to exit'})
  }
}
