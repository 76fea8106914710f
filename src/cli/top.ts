// qm top's loop: the daemon's status once, then its events (state changes at once, probe
// answers into each row's latency window), the slow figures (CPU, memory, uptime) asked
// again every two seconds, keys from the terminal in raw mode, and a frame drawn on the
// alternate screen whenever something changed. Leaving restores the terminal and stops
// nothing.
import {emitKeypressEvents} from 'node:readline'
import type {ContractEvent, StatusResult} from '../control/contract.js'
import {QmClient} from '../control/qm-client.js'
import type {Manifest} from '../manifest/types.js'
import {ExitCode, UsageError} from '../errors.js'
import {colourFor} from '../ui/colour.js'
import {renderTop, type TopRow, type TopState} from '../ui/top-view.js'
import type {Outcome} from './read-commands.js'

const LATENCY_WINDOW = 100
const SLOW_REFRESH_MS = 2000
const LOG_LINES_KEPT = 2000
const ALT_SCREEN_ON = '\u001B[?1049h\u001B[?25l'
const ALT_SCREEN_OFF = '\u001B[?25h\u001B[?1049l'

type Key = {name?: string; ctrl?: boolean; shift?: boolean; sequence?: string}

export interface TopIo {
  input: NodeJS.ReadStream
  output: NodeJS.WriteStream
  colour: ReturnType<typeof colourFor>
}

/**
 * qm top, from its oclif command and from the fast path: refused off a terminal, exit 1
 * when no daemon runs, else until q or Ctrl-C.
 */
export async function showTop(manifest: Manifest): Promise<Outcome<undefined>> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError('qm top needs a terminal', 'off a terminal, qm status --watch redraws the table and qm events streams what happens, one line each')
  }
  const client = new QmClient(manifest)
  const first = await client.status([])
  if (first.daemon === null) {
    process.stderr.write('no qm daemon runs for this manifest: nothing to show; qm start starts one\n')
    return {result: undefined, exitCode: ExitCode.failed}
  }
  await new Top(manifest, client, {input: process.stdin, output: process.stdout, colour: colourFor(process.stdout)}, first).run()
  return {result: undefined, exitCode: ExitCode.ok}
}

class Top {
  private readonly state: TopState
  private readonly latencies = new Map<string, number[]>()
  private readonly certificateDays = new Map<string, number | null>()
  private readonly stop = new AbortController()
  private stopLog: (() => void) | undefined
  private pending: (() => void) | undefined
  private drawQueued = false
  private refreshing = false

  constructor(
    private readonly manifest: Manifest,
    private readonly client: QmClient,
    private readonly io: TopIo,
    first: StatusResult,
  ) {
    const registry = manifest.registry.kind === 'sqlite' ? `sqlite ${manifest.registry.path}` : `postgres ${manifest.registry.url}`
    this.state = {daemonPid: first.daemon!.pid, registry, pendingWrites: 0, rows: [], selected: 0, mode: {kind: 'table'}, message: undefined}
    this.apply(first)
  }

  async run(): Promise<void> {
    const {input, output} = this.io
    output.write(ALT_SCREEN_ON)
    emitKeypressEvents(input)
    input.setRawMode(true)
    input.resume()
    const onKey = (text: string | undefined, key: Key | undefined) => this.key(text, key ?? {})
    const onResize = () => this.draw()
    input.on('keypress', onKey)
    output.on('resize', onResize)
    const timer = setInterval(() => void this.refresh(), SLOW_REFRESH_MS)
    const events = this.client.events({}, (event) => this.event(event), this.stop.signal).catch((error: unknown) => {
      this.state.message = `the daemon went away: ${(error as Error).message}`
      this.draw()
    })
    this.draw()
    // After the first frame: reading the certificates' dates costs more than drawing it.
    setImmediate(() => void this.readCertificateDays())
    try {
      await new Promise<void>((resolve) => this.stop.signal.addEventListener('abort', () => resolve(), {once: true}))
    } finally {
      clearInterval(timer)
      this.stopLog?.()
      input.off('keypress', onKey)
      output.off('resize', onResize)
      input.setRawMode(false)
      input.pause()
      output.write(ALT_SCREEN_OFF)
      await events
    }
  }

  private async readCertificateDays(): Promise<void> {
    const {certificateExpiries} = await import('../certs/expiry.js')
    for (const service of this.manifest.services) {
      const days = certificateExpiries([service.certs]).map((c) => c.daysLeft)
      this.certificateDays.set(service.name, days.length === 0 ? null : Math.min(...days))
    }
    for (const row of this.state.rows) row.certificateDays = this.certificateDays.get(row.service) ?? null
    this.draw()
  }

  private apply(status: StatusResult): void {
    const selectedName = this.state.rows[this.state.selected]?.name
    this.state.pendingWrites = status.registry?.pendingWrites ?? 0
    this.state.rows = status.services.map((row) => ({...row, recentLatencies: this.latencies.get(row.name) ?? [], certificateDays: this.certificateDays.get(row.service) ?? null}))
    const again = this.state.rows.findIndex((row) => row.name === selectedName)
    this.state.selected = again >= 0 ? again : Math.min(this.state.selected, Math.max(0, this.state.rows.length - 1))
  }

  private async refresh(): Promise<void> {
    if (this.refreshing || this.stop.signal.aborted) return
    this.refreshing = true
    try {
      this.apply(await this.client.status([]))
      this.draw()
    } catch {
      // The daemon is going; the events stream says so.
    } finally {
      this.refreshing = false
    }
  }

  private event(event: ContractEvent): void {
    if (event.type === 'probe') {
      const window = this.latencies.get(event.name) ?? []
      window.push(event.latencyMs)
      if (window.length > LATENCY_WINDOW) window.shift()
      this.latencies.set(event.name, window)
      const row = this.state.rows.find((r) => r.name === event.name)
      if (row) {
        row.recentLatencies = window
        row.health = {status: event.status, latencyMs: event.latencyMs, method: event.method, ...(event.reason ? {reason: event.reason} : {})}
        if (event.version) row.version = event.version
      }
      this.draw()
      return
    }
    if (event.type !== 'transition') return
    // The state at once; pid, port and the rest with the status that follows.
    const row = this.state.rows.find((r) => r.name === event.name)
    if (row) row.state = event.to
    this.draw()
    void this.refresh()
  }

  private selectedRow(): TopRow | undefined {
    return this.state.rows[this.state.selected]
  }

  private key(text: string | undefined, key: Key): void {
    const {mode} = this.state
    if (key.ctrl && key.name === 'c') return this.stop.abort()
    if (mode.kind === 'help') {
      this.state.mode = {kind: 'table'}
      return this.draw()
    }
    if (mode.kind === 'confirm') {
      const go = this.pending
      this.pending = undefined
      this.state.mode = {kind: 'table'}
      if (text === 'y' || text === 'Y') go?.()
      else this.state.message = 'nothing done'
      return this.draw()
    }
    if (mode.kind === 'log') {
      if (mode.typing) {
        if (key.name === 'return' || key.name === 'enter') {
          mode.typing = false
          mode.hit = mode.search ? this.lastHit(mode.lines, mode.search) : undefined
        } else if (key.name === 'escape') {
          mode.typing = false
          mode.search = undefined
          mode.hit = undefined
        } else if (key.name === 'backspace') mode.search = (mode.search ?? '').slice(0, -1)
        else if (text && text >= ' ' && !key.ctrl) mode.search = (mode.search ?? '') + text
        return this.draw()
      }
      if (text === '/') {
        mode.typing = true
        mode.search = ''
      } else if (text === 'n' && mode.search) {
        const hits = mode.lines.filter((line) => line.includes(mode.search!)).length
        mode.hit = hits === 0 ? undefined : ((mode.hit ?? -1) + 1) % hits
      } else if (key.name === 'escape' || text === 'h' || key.name === 'left') {
        this.stopLog?.()
        this.stopLog = undefined
        this.state.mode = {kind: 'table'}
      } else if (text === 'q') return this.stop.abort()
      return this.draw()
    }
    // The table.
    const row = this.selectedRow()
    if (text === 'q') return this.stop.abort()
    if (text === '?') this.state.mode = {kind: 'help'}
    else if (key.name === 'down' || text === 'j') this.state.selected = Math.min(this.state.rows.length - 1, this.state.selected + 1)
    else if (key.name === 'up' || text === 'k') this.state.selected = Math.max(0, this.state.selected - 1)
    else if (row && (key.name === 'return' || key.name === 'enter' || text === 'l')) void this.openLog(row.name)
    else if (row && text === 'r') this.act(row, 'restart', `restart ${row.name}`)
    else if (row && text === 's') this.act(row, 'stop', `stop ${row.name}`)
    else if (row && text === 't') this.act(row, 'start', `start ${row.name}`)
    else if (row && text === 'o') this.act(row, 'rollout', `roll out ${row.name}`)
    this.draw()
  }

  private lastHit(lines: readonly string[], search: string): number | undefined {
    const hits = lines.filter((line) => line.includes(search)).length
    return hits === 0 ? undefined : hits - 1
  }

  /** An action on one service, asked first when it would stop something that serves. */
  private act(row: TopRow, verb: 'restart' | 'stop' | 'start' | 'rollout', words: string): void {
    const serving = row.state === 'running' || row.state === 'unhealthy'
    const go = () => void this.perform(row.name, verb, words)
    if (verb !== 'start' && serving) {
      this.pending = go
      this.state.mode = {kind: 'confirm', question: `${words}? it serves now`}
      return
    }
    go()
  }

  private async perform(name: string, verb: 'restart' | 'stop' | 'start' | 'rollout', words: string): Promise<void> {
    this.state.message = `${words}…`
    this.draw()
    const ignore = () => undefined
    try {
      if (verb === 'start') {
        const report = await this.client.start([name], ignore)
        const failed = report.results.find((r) => !r.ok)
        this.state.message = failed ? `${name}: ${failed.reason ?? 'not healthy'}` : `${name} started`
      } else if (verb === 'stop') {
        await this.client.stop([name], ignore)
        this.state.message = `${name} stopped`
      } else if (verb === 'restart') {
        const report = await this.client.restart([name], ignore)
        const failed = report?.results.find((r) => !r.ok)
        this.state.message = failed ? `${name}: ${failed.reason ?? 'not healthy'}` : `${name} restarted`
      } else {
        const report = await this.client.rollout([name], ignore)
        const failed = report?.results.find((r) => !r.ok)
        this.state.message = failed ? `${name}: ${failed.reason ?? 'not rolled out'}` : `${name} rolled out`
      }
    } catch (error) {
      this.state.message = `${words}: ${(error as Error).message}`
    }
    await this.refresh()
    this.draw()
  }

  private async openLog(name: string): Promise<void> {
    const [{logPath}, {followLines, recentLines}] = await Promise.all([import('../supervisor/log-files.js'), import('../supervisor/log-view.js')])
    const path = logPath(this.manifest.stateDir, name)
    const mode = {kind: 'log' as const, name, lines: recentLines([{name, path}], {count: 500}).map((line) => line.text), search: undefined, typing: false, hit: undefined}
    this.state.mode = mode
    this.stopLog?.()
    const show = (text: string) => {
      mode.lines.push(text)
      if (mode.lines.length > LOG_LINES_KEPT) mode.lines.splice(0, mode.lines.length - LOG_LINES_KEPT)
      this.draw()
    }
    this.stopLog = followLines([{name, path}], (line) => show(line.text), {onError: (_name, error) => show(`qm: cannot read this log: ${error.message}`)})
    this.draw()
  }

  /** At most one frame per turn of the event loop, of exactly the terminal's size. */
  private draw(): void {
    if (this.drawQueued || this.stop.signal.aborted) return
    this.drawQueued = true
    setImmediate(() => {
      this.drawQueued = false
      if (this.stop.signal.aborted) return
      const size = {columns: this.io.output.columns || 80, rows: this.io.output.rows || 24}
      const lines = renderTop(this.io.colour, this.state, size)
      this.io.output.write(`\u001B[H${lines.map((line) => `${line}\u001B[K`).join('\r\n')}\u001B[J`)
    })
  }
}
