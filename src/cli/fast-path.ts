// The commands typed all day, without oclif. Loading oclif and its configuration costs
// more than the rest of `qm status` together (about 100 of its ms, measured with `npm run
// bench`), so bin/run.js hands the command line here first. This path takes only the
// plain forms (`qm status|start|stop|restart [NAME…] [--json]`, `qm --version`,
// `qm endpoints`, `qm logs -n N` without -f, `qm top`, `qm up [NAME…]`) and reads nothing it does not need: with a
// daemon running, status, start, stop and restart need the manifest's location and the
// socket, not a parsed manifest, because the daemon holds it (and a start has it read the
// file again). A start with no daemon loads the manifest and starts one: oclif would add
// its 100 ms or more to every cold start.
// Anything else (help, a misspelt flag, --watch, no daemon for a status) returns
// undefined, and oclif runs the command as always, with the same bodies
// (read-commands.ts), so both paths print the same.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {ExitCode, QmError} from '../errors.js'
import {STATE_DIR_NAME} from '../manifest/defaults.js'
import type {ControlClient} from '../control/client.js'
import {findManifest, type FindManifestOptions} from '../manifest/find.js'
import {packagePath} from '../package-paths.js'
import type {CommandIo, Outcome} from './read-commands.js'

type FlagKind = 'boolean' | 'string' | 'integer'
interface FlagSpec {
  kind: FlagKind
  char?: string
  aliases?: string[]
}
type Parsed = {flags: Record<string, string | number | boolean>; positionals: string[]}

const STATUS_NAMES = new Set(['status', 'ps', 'ls', 'list'])
const MANIFEST: FlagSpec = {kind: 'string'}
const JSON_FLAG: FlagSpec = {kind: 'boolean'}
/** The flags of status, start, stop and restart: -f is --manifest there (not on logs, where it follows). */
const MANIFEST_FLAGS: Record<string, FlagSpec> = {manifest: {...MANIFEST, char: 'f'}}
const DAEMON_FLAGS: Record<string, FlagSpec> = {...MANIFEST_FLAGS, json: JSON_FLAG}

/** The exit code of a command run here, or undefined: oclif should run it. */
export async function runFastPath(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv
  if (command === '--version' && rest.length === 0) return version()
  if (command !== undefined && STATUS_NAMES.has(command)) {
    const parsed = parse(rest, DAEMON_FLAGS)
    return parsed && withDaemon(parsed, (client, json) => status(client, parsed.positionals, json))
  }
  if (command === 'start' || command === 'stop' || command === 'restart') {
    const parsed = parse(rest, DAEMON_FLAGS)
    if (!parsed) return undefined
    const exitCode = await withDaemon(parsed, (client, json) => change(client, command, parsed.positionals, json))
    return exitCode === undefined && command === 'start' ? startDaemonAndStart(parsed) : exitCode
  }
  if (command === 'endpoints') {
    const parsed = parse(rest, {...DAEMON_FLAGS, host: {kind: 'string'}, 'all-hosts': {kind: 'boolean'}})
    if (!parsed || parsed.positionals.length > 0 || (parsed.flags.host !== undefined && parsed.flags['all-hosts'] !== undefined)) return undefined
    return endpoints(parsed)
  }
  if (command === 'top') {
    const parsed = parse(rest, MANIFEST_FLAGS)
    if (!parsed || parsed.positionals.length > 0) return undefined
    return report(false, async () => {
      const [manifest, {showTop}] = await Promise.all([load(parsed.flags), import('./top.js')])
      return showTop(manifest)
    })
  }
  if (command === 'up') {
    const parsed = parse(rest, MANIFEST_FLAGS)
    return parsed && up(parsed)
  }
  if (command === 'logs') {
    const parsed = parse(rest, {manifest: MANIFEST, tail: {kind: 'integer', char: 'n', aliases: ['lines']}, since: {kind: 'string'}, timestamps: {kind: 'boolean', char: 't'}})
    return parsed && logs(parsed)
  }
  return undefined
}

function version(): number {
  const {version: qmVersion} = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {version: string}
  // oclif's user agent, as `qm --version` has always printed it.
  process.stdout.write(`qm/${qmVersion} ${process.platform}-${process.arch} node-${process.version}\n`)
  return 0
}

/**
 * Runs a body against the manifest's daemon, or returns undefined when none answers (or the
 * manifest cannot be found): a start then starts one (startDaemonAndStart), and oclif's
 * path answers the rest from the records.
 */
async function withDaemon<T>(parsed: Parsed, body: (client: ControlClient, json: boolean) => Promise<Outcome<T>>): Promise<number | undefined> {
  const manifestFile = locate(parsed.flags)
  if (manifestFile === undefined) return undefined
  const [{ControlClient: Client}, {daemonPaths}] = await Promise.all([import('../control/client.js'), import('../control/paths.js')])
  const client = await Client.connect(daemonPaths(join(dirname(manifestFile), STATE_DIR_NAME)).socket).catch(() => undefined)
  if (!client) return undefined
  const json = parsed.flags.json === true
  return report(json, async () => {
    try {
      return await body(client, json)
    } finally {
      client.close()
    }
  })
}

async function status(client: ControlClient, names: string[], json: boolean) {
  const reply = await client.request('status', {names})
  const {showStatus} = await import('./read-commands.js')
  return showStatus(reply, io(json))
}

/** start, stop and restart: the daemon holds the manifest, and a start has it read the file again. */
async function change(client: ControlClient, verb: 'start' | 'stop' | 'restart', names: string[], json: boolean) {
  const bodies = await import('./change-commands.js')
  const changeIo = changeIoFor(json)
  const params = {names}
  if (verb === 'start') return bodies.showStart(async (onEvent) => ({daemonStarted: false, ...(await client.request('start', params, onEvent))}), changeIo)
  if (verb === 'stop') return bodies.showStop((onEvent) => client.request('stop', params, onEvent), changeIo)
  return bodies.showRestart((onEvent) => client.request('restart', params, onEvent), changeIo)
}

/**
 * qm start with no daemon answering: the manifest (from its cache when the file and the
 * variables it read are unchanged), a daemon started, then the same body as with one. A
 * manifest that does not load goes to oclif, which says what is wrong in its own words.
 */
async function startDaemonAndStart({flags, positionals}: Parsed): Promise<number | undefined> {
  const manifest = await loadOrDefer(flags)
  if (!manifest) return undefined
  const json = flags.json === true
  const [{QmClient}, bodies] = await Promise.all([import('../control/qm-client.js'), import('./change-commands.js')])
  const changeIo = changeIoFor(json)
  return report(json, async () => {
    const outcome = await bodies.showStart((onEvent) => new QmClient(manifest).start(positionals, onEvent), changeIo)
    await bodies.warnUnreservedPorts(outcome.result, manifest.portRange, changeIo)
    return outcome
  })
}

async function endpoints({flags}: Parsed): Promise<number | undefined> {
  const json = flags.json === true
  return report(json, async () => {
    const [manifest, {showEndpoints}] = await Promise.all([load(flags), import('./read-commands.js')])
    return showEndpoints(manifest, {...(typeof flags.host === 'string' ? {host: flags.host} : {}), allHosts: flags['all-hosts'] === true}, io(json))
  })
}

/** qm up: it runs as long as the services do, so oclif would stay loaded all that time. A manifest that does not load goes to oclif, as for a start. */
async function up({flags, positionals}: Parsed): Promise<number | undefined> {
  const manifest = await loadOrDefer(flags)
  if (!manifest) return undefined
  const {runUp} = await import('./up.js')
  return report(false, async () => {
    await runUp(manifest, positionals, lineTo(process.stdout))
    return {result: undefined, exitCode: 0}
  })
}

async function logs({flags, positionals}: Parsed): Promise<number | undefined> {
  return report(false, async () => {
    const [manifest, {showRecentLogs}] = await Promise.all([load(flags), import('./read-commands.js')])
    const options = {names: positionals, tail: typeof flags.tail === 'number' ? flags.tail : 50, timestamps: flags.timestamps === true, ...(typeof flags.since === 'string' ? {since: flags.since} : {})}
    await showRecentLogs(manifest, options, io(false))
    return {result: undefined, exitCode: 0}
  })
}

function io(json: boolean): CommandIo {
  return {out: lineTo(process.stdout), json}
}

/** start, stop and restart also say things on stderr: progress, refusals, the warning. */
function changeIoFor(json: boolean) {
  return {...io(json), diag: lineTo(process.stderr)}
}

/** Prints as QmCommand's out and diag do: each text one or more whole lines. */
function lineTo(stream: NodeJS.WriteStream): (text: string) => void {
  return (text) => stream.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Runs a body; prints its result for --json, or its refusal as QmCommand does; the exit code. */
async function report<T>(json: boolean, body: () => Promise<Outcome<T>>): Promise<number> {
  try {
    const {result, exitCode} = await body()
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return exitCode
  } catch (error) {
    if (!(error instanceof QmError)) {
      // As QmCommand says it, rather than Node's report of an uncaught rejection.
      process.stderr.write(`qm: internal error, please report it: ${(error as Error).stack ?? String(error)}\n`)
      return ExitCode.failed
    }
    const {writeError} = await import('../ui/error-report.js')
    writeError(error, json)
    return error.exitCode
  }
}

/** The manifest file the flags and the environment name, or undefined when finding it fails (oclif's path then says why). */
function locate(flags: Parsed['flags']): string | undefined {
  try {
    return findManifest(findOptions(flags))
  } catch {
    return undefined
  }
}

function findOptions(flags: Parsed['flags']): FindManifestOptions {
  return {...(typeof flags.manifest === 'string' ? {flag: flags.manifest} : {}), env: process.env, cwd: process.cwd()}
}

async function load(flags: Parsed['flags']) {
  const {loadManifest} = await import('../manifest/load.js')
  return loadManifest(findOptions(flags))
}

/** The manifest, or undefined when it does not load: oclif's path then says what is wrong in its own words. */
async function loadOrDefer(flags: Parsed['flags']) {
  try {
    return await load(flags)
  } catch (error) {
    if (error instanceof QmError) return undefined
    throw error
  }
}

/**
 * The flags of one command, strictly: a flag it does not know, one given twice, a value
 * missing or of the wrong form, `--`, or help all mean "not here", and oclif parses the
 * line and says what is wrong in its own words.
 */
function parse(args: readonly string[], specs: Record<string, FlagSpec>): Parsed | undefined {
  const flags: Parsed['flags'] = {}
  const positionals: string[] = []
  const byChar = new Map(Object.entries(specs).flatMap(([name, spec]) => (spec.char ? [[spec.char, name] as const] : [])))
  const byAlias = new Map(Object.entries(specs).flatMap(([name, spec]) => [[name, name] as const, ...(spec.aliases ?? []).map((alias) => [alias, name] as const)]))
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (!arg.startsWith('-')) {
      positionals.push(arg)
      continue
    }
    const long = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(arg)
    const short = /^-([a-zA-Z])$/.exec(arg)
    const name = long ? byAlias.get(long[1]!) : short ? byChar.get(short[1]!) : undefined
    if (name === undefined || name in flags) return undefined
    const spec = specs[name]!
    const inline = long?.[2]
    if (spec.kind === 'boolean') {
      if (inline !== undefined) return undefined
      flags[name] = true
      continue
    }
    const value = inline ?? args[++i]
    if (value === undefined || (inline === undefined && value.startsWith('-'))) return undefined
    if (spec.kind === 'integer') {
      if (!/^\d+$/.test(value)) return undefined
      flags[name] = Number(value)
    } else {
      flags[name] = value
    }
  }
  return {flags, positionals}
}
