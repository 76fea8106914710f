// The root file system the live systemd boots: Debian 12 minbase with systemd and the
// guide's Python packages, made by debootstrap once per machine and package list. It is
// built in a folder of its own and renamed into place only when complete, so a run killed
// half-way leaves no cache that looks whole; the runs themselves never write to it.
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export const SUITE = 'bookworm'
/** systemd and what boots it, and what the guide's Python services import. */
export const ROOT_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'python3-grpcio', 'python3-grpc-tools', 'python3-pkg-resources'] as const

const CACHE_DIR = process.env.QM_LIVE_CACHE ?? '/var/cache/qm-test'
const FALLBACK_MIRROR = 'http://deb.debian.org/debian'

export class RootFsError extends Error {
  override name = 'RootFsError'
}

export interface DebianRoot {
  dir: string
  /** How long making it took, or undefined when it came from the cache. */
  builtInMs?: number
}

/** The cached root for this package list, made first when there is none. */
export async function debianRoot(options: {mirror?: string; log?: (line: string) => void} = {}): Promise<DebianRoot> {
  const mirror = options.mirror ?? aptMirror()
  const key = createHash('sha256').update(JSON.stringify({suite: SUITE, variant: 'minbase', packages: [...ROOT_PACKAGES].sort(), mirror})).digest('hex').slice(0, 12)
  const dir = join(CACHE_DIR, `debian-${SUITE}-${key}`)
  if (existsSync(join(dir, 'usr', 'lib', 'systemd', 'systemd'))) return {dir}

  mkdirSync(CACHE_DIR, {recursive: true})
  removeAbandonedBuilds(key)
  const building = join(CACHE_DIR, `.building-${key}-${process.pid}`)
  const startedMs = performance.now()
  options.log?.(`making the Debian root file system in ${dir} with debootstrap from ${mirror} (once per machine; about two minutes)`)
  try {
    await debootstrap(building, mirror)
    // Who made it, for a person looking at the cache; the key is in the folder's name.
    writeFileSync(join(building, '.qm-test-root'), `${JSON.stringify({suite: SUITE, packages: ROOT_PACKAGES, mirror})}\n`)
    renameSync(building, dir)
  } catch (error) {
    rmSync(building, {recursive: true, force: true})
    // Another run may have finished the same root first: then its copy is as good.
    if (existsSync(join(dir, 'usr', 'lib', 'systemd', 'systemd'))) return {dir}
    throw error
  }
  return {dir, builtInMs: Math.round(performance.now() - startedMs)}
}

/** The Debian mirror apt on this machine uses for the suite, so that the root comes from the same place. */
export function aptMirror(): string {
  const files = ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((name) => join('/etc/apt/sources.list.d', name))]
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue // a sources file that cannot be read says nothing about the mirror
    }
    const mirror = file.endsWith('.sources') ? deb822Mirror(text) : oneLineMirror(text)
    if (mirror !== undefined) return mirror
  }
  return FALLBACK_MIRROR
}

function deb822Mirror(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? []
    if (!field('Types').includes('deb') || !field('Suites').includes(SUITE)) continue
    const uri = field('URIs').find((u) => /^https?:\/\//.test(u))
    if (uri !== undefined) return uri
  }
  return undefined
}

function oneLineMirror(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)/.exec(line.trim())
    if (match && match[2] === SUITE) return match[1]
  }
  return undefined
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.list') || name.endsWith('.sources'))
  } catch {
    return [] // no such folder: nothing more to read
  }
}

/** A build whose run is gone (killed) is rubbish; one whose run still lives is left alone. */
function removeAbandonedBuilds(key: string): void {
  for (const name of listAll(CACHE_DIR)) {
    const match = new RegExp(`^\\.building-${key}-(\\d+)$`).exec(name)
    if (match && !alive(Number(match[1]))) rmSync(join(CACHE_DIR, name), {recursive: true, force: true})
  }
}

function listAll(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return [] // made just before; an error here would show again at mkdir or debootstrap
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function debootstrap(dir: string, mirror: string): Promise<void> {
  const args = ['--variant=minbase', `--include=${ROOT_PACKAGES.join(',')}`, SUITE, dir, mirror]
  return new Promise((resolve, reject) => {
    const child = spawn('debootstrap', args, {stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.once('error', (error) => reject(new RootFsError(`debootstrap could not run: ${error.message}`)))
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new RootFsError(`debootstrap ${args.join(' ')} failed (${code ?? signal}); its last lines:\n${output.split('\n').slice(-15).join('\n')}`))
    })
  })
}
