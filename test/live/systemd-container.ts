// A live systemd for the tests: systemd-nspawn boots the cached Debian root as a throwaway
// container (a tmpfs overlay over the root, so no run writes to the cache) that shares the
// host's network, and the test drives it from outside through nsenter. shutdown() powers it
// off and, whatever happened, kills what is left of it by pid.
import {spawn, type ChildProcess} from 'node:child_process'
import {readdirSync, readFileSync, realpathSync} from 'node:fs'
import {execa} from 'execa'

export class ContainerError extends Error {
  override name = 'ContainerError'
}

export interface BootOptions {
  /** The root file system (left untouched: --volatile=overlay). */
  root: string
  /** Host paths mounted read-only at the same path inside. */
  readOnly: readonly string[]
  /** Host paths mounted read-write at the same path inside. */
  readWrite: readonly string[]
  bootTimeoutMs?: number
}

export interface CommandResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface LiveSystemd {
  /** The host pid of systemd-nspawn, leader of its own process group. */
  nspawnPid: number
  /** The host pid of the container's PID 1 (its systemd). */
  initPid: number
  /** Runs a program inside the container (all its namespaces), as root. */
  run(argv: readonly string[], options?: {timeoutMs?: number}): Promise<CommandResult>
  systemctl(...args: string[]): Promise<CommandResult>
  /** `systemctl show -p` of one unit: property → value. */
  show<P extends string>(unit: string, ...properties: P[]): Promise<Record<P, string>>
  /** The unit's journal since boot, with monotonic timestamps. */
  journal(unit: string): Promise<string>
  /** The container's path for a host path under its root, e.g. to write unit files. */
  hostPathOf(path: string): string
  /** What systemd-nspawn printed: the boot messages and its own errors. */
  output(): string
  /** Power off, and kill whatever is left after the deadline. Safe to call twice. */
  shutdown(timeoutMs?: number): Promise<void>
}

export async function bootSystemd(options: BootOptions): Promise<LiveSystemd> {
  const args = [
    '-b',
    '-D', options.root,
    // The root is the shared cache: every write goes to a tmpfs that vanishes with the container.
    '--volatile=overlay',
    '--register=no',
    '--keep-unit',
    '--console=read-only',
    ...options.readOnly.map((path) => `--bind-ro=${realpathSync(path)}:${path}`),
    ...options.readWrite.map((path) => `--bind=${realpathSync(path)}:${path}`),
  ]
  // This host mounts cgroup v1 beside v2; systemd 252 in the container wants the unified hierarchy.
  const child = spawn('systemd-nspawn', args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1', SYSTEMD_COLORS: '0'},
  })
  let text = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('error', (error) => (text += `\nsystemd-nspawn could not run: ${error.message}`))

  let initPid: number | undefined
  const container = makeHandle(child, () => text, exited, () => initPid)
  try {
    initPid = await findInit(child, () => text, options.bootTimeoutMs ?? 60_000)
    await waitForBoot(container, options.bootTimeoutMs ?? 60_000)
    return container
  } catch (error) {
    await container.shutdown(2000)
    throw error
  }
}

function makeHandle(child: ChildProcess, output: () => string, exited: Promise<void>, initPid: () => number | undefined): LiveSystemd & {initPid: number} {
  let ended: Promise<void> | undefined
  const handle = {
    nspawnPid: child.pid!,
    get initPid() {
      const pid = initPid()
      if (pid === undefined) throw new ContainerError('the container has no init yet')
      return pid
    },
    async run(argv: readonly string[], {timeoutMs = 60_000} = {}): Promise<CommandResult> {
      const result = await execa('nsenter', ['-t', String(handle.initPid), '-a', ...argv], {
        reject: false,
        timeout: timeoutMs,
        env: {SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', PATH: '/usr/sbin:/usr/bin:/sbin:/bin'},
        extendEnv: false,
      })
      if (result.timedOut) throw new ContainerError(`${argv.join(' ')} inside the container did not end within ${timeoutMs} ms`)
      return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
    },
    systemctl: (...args: string[]) => handle.run(['systemctl', '--no-pager', ...args]),
    async show<P extends string>(unit: string, ...properties: P[]): Promise<Record<P, string>> {
      const result = await handle.systemctl('show', unit, ...properties.map((p) => `-p${p}`))
      if (result.exitCode !== 0) throw new ContainerError(`systemctl show ${unit} failed: ${result.stderr}`)
      const shown = new Map(result.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
      // Every property asked for is answered (empty when unset), so a missing one is a typo here.
      return Object.fromEntries(properties.map((p) => [p, shown.get(p) ?? ''])) as Record<P, string>
    },
    async journal(unit: string) {
      const result = await handle.run(['journalctl', '--no-pager', '-o', 'short-monotonic', '-u', unit])
      return result.stdout
    },
    hostPathOf: (path: string) => `/proc/${handle.initPid}/root${path}`,
    output,
    shutdown(timeoutMs = 20_000) {
      ended ??= endContainer(child, exited, initPid(), handle, timeoutMs)
      return ended
    },
  }
  return handle
}

async function endContainer(child: ChildProcess, exited: Promise<void>, initPid: number | undefined, handle: LiveSystemd, timeoutMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && initPid !== undefined) {
    // --no-block: the answer would otherwise race the end of the bus it comes over.
    await handle.systemctl('poweroff', '--no-block').catch(() => undefined) // a dead container is what poweroff wants anyway
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  }
  // Whatever is left: the container's PID 1 (its whole PID namespace dies with it) and nspawn's group.
  for (const pid of [initPid, -child.pid!, child.pid!]) {
    if (pid === undefined) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // ESRCH: gone already, which is the aim
    }
  }
  if (child.exitCode === null && child.signalCode === null) await exited
}

/** The container's PID 1 is the child of systemd-nspawn that runs systemd. */
async function findInit(child: ChildProcess, output: () => string, timeoutMs: number): Promise<number> {
  const startedMs = performance.now()
  while (performance.now() - startedMs < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ContainerError(`systemd-nspawn exited (${child.exitCode ?? child.signalCode}) before the container booted; it said:\n${output()}`)
    }
    const init = childrenOf(child.pid!).find((pid) => comm(pid) === 'systemd')
    if (init !== undefined) return init
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new ContainerError(`no systemd under systemd-nspawn (pid ${child.pid}) within ${timeoutMs} ms; it said:\n${output()}`)
}

/** Until systemd says the boot is over (running, or degraded when some unit of the image failed). */
async function waitForBoot(container: LiveSystemd, timeoutMs: number): Promise<void> {
  const startedMs = performance.now()
  let last = ''
  while (performance.now() - startedMs < timeoutMs) {
    const result = await container.systemctl('is-system-running')
    last = `${result.stdout.trim()} ${result.stderr.trim()}`.trim()
    if (/^(running|degraded)$/.test(result.stdout.trim())) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new ContainerError(`the container's systemd did not finish booting within ${timeoutMs} ms (is-system-running: ${last}); systemd-nspawn said:\n${container.output()}`)
}

function childrenOf(parent: number): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // Field 4 of stat, after the command name in parentheses (which may hold spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(entry))
    } catch {
      continue // ended while we looked
    }
  }
  return pids
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined // ended while we looked
  }
}
