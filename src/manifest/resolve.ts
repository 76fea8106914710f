// The checks a schema cannot express (ports against port_range, depends_on naming
// real services, no cycles), then defaults merged into each service with durations
// in milliseconds and paths made absolute.
import {isAbsolute, join, resolve} from 'node:path'
import {ManifestError} from '../errors.js'
import {DatabaseUrl, urlProblem} from './database-url.js'
import type {FieldPath, ManifestSource} from './source.js'
import type {BackoffSettings, CertPaths, HealthSettings, HookSettings, LogSettings, Manifest, RegistrySettings, RolloutSettings, ServiceSpec} from './types.js'
import {durationMs, sizeBytes} from './units.js'

import {BACKOFF_DEFAULTS, DEFAULT_PORT_RANGE, DEFAULT_REGISTRY_HOST, DEFAULT_SERVER_NAME, DEFAULT_VERSION_KEYS, HEALTH_DEFAULTS, HOOK_DEFAULTS, LOG_DEFAULTS, ROLLOUT_DEFAULTS, SERVICE_DEFAULTS, STATE_DIR_NAME} from './defaults.js'

export {DEFAULT_PORT_RANGE, STATE_DIR_NAME}

interface RawHealth {type?: HealthSettings['type']; interval?: string; timeout?: string; start_timeout?: string; failure_threshold?: number; server_name?: string; version_key?: string}
interface RawBackoff {initial?: string; max?: string; factor?: number; reset_after?: string; max_failures?: number}
interface RawLogs {max_size?: string; keep?: number}
interface RawRollout {drain_delay?: string; watch?: string}
interface RawHooks {on_fatal?: string[]; on_unhealthy?: string[]; on_restart?: string[]; on_recovered?: string[]; timeout?: string}
type RawResourceList = {cpu?: string | number; memory?: string | number}
interface RawResources {requests?: RawResourceList; limits?: RawResourceList}
interface RawSettings {
  certs?: string
  max_workers?: number
  log_level?: ServiceSpec['logLevel']
  restart?: ServiceSpec['restart']
  stop_timeout?: string
  drain_delay?: string
  rollout?: RawRollout
  hooks?: RawHooks
  cwd?: string
  env?: Record<string, string | number | boolean>
  health?: RawHealth
  backoff?: RawBackoff
  logs?: RawLogs
  resources?: RawResources
}
interface RawService extends RawSettings {
  command: string[]
  port?: number | string
  expected_version?: string
  depends_on?: string[]
  instances?: number
}
export interface RawManifest {
  version: 1
  registry?: {path?: string; url?: string; table?: string; host?: string}
  port_range?: [number, number]
  project?: string
  metrics?: {listen?: string}
  defaults?: RawSettings
  services: Record<string, RawService>
}

export function resolveManifest(source: ManifestSource, raw: RawManifest, env: NodeJS.ProcessEnv = {}): Manifest {
  const dir = resolve(source.file, '..')
  const portRange = raw.port_range ?? DEFAULT_PORT_RANGE
  if (portRange[0] > portRange[1]) {
    throw source.error(['port_range'], `must be [first, last] with first <= last, got [${portRange[0]}, ${portRange[1]}]`)
  }
  checkPorts(source, raw, portRange)
  checkDependencies(source, raw)
  const registry = resolveRegistry(source, raw, dir, env)

  const defaults = raw.defaults ?? {}
  const services = Object.entries(raw.services).map(([name, service]) => resolveService(dir, name, defaults, service))
  const stateDir = join(dir, STATE_DIR_NAME)
  return {
    file: source.file,
    dir,
    stateDir,
    ...(raw.project === undefined ? {} : {project: raw.project}),
    ...(raw.metrics?.listen === undefined ? {} : {metrics: {listen: listenAddress(source, raw.metrics.listen)}}),
    registry,
    portRange: [portRange[0], portRange[1]],
    services,
  }
}

function listenAddress(source: ManifestSource, text: string): {host: string; port: number} {
  const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(text)
  const port = Number(match?.[2])
  if (!match || !(port >= 1 && port <= 65535)) throw source.error(['metrics', 'listen'], `must be ADDRESS:PORT with a port from 1 to 65535, got ${text}`)
  return {host: match[1]!, port}
}

/** SQLite at registry.path (default .qm/registry.sqlite3), or PostgreSQL at QM_REGISTRY_URL or registry.url. */
function resolveRegistry(source: ManifestSource, raw: RawManifest, dir: string, env: NodeJS.ProcessEnv): RegistrySettings {
  const table = raw.registry?.table ?? 'core_serviceendpoint'
  const host = raw.registry?.host ?? DEFAULT_REGISTRY_HOST
  if (raw.registry?.url !== undefined && raw.registry.path !== undefined) {
    throw source.error(['registry', 'url'], 'url and path are exclusive: url names a PostgreSQL registry, path an SQLite file', 'keep one of them', {atKey: true})
  }
  const fromEnv = env.QM_REGISTRY_URL
  if (fromEnv) {
    const problem = urlProblem(fromEnv)
    if (problem) throw new ManifestError(`QM_REGISTRY_URL ${problem}`, 'unset it to use the manifest\'s registry')
    return {kind: 'postgres', url: new DatabaseUrl(fromEnv), table, host}
  }
  if (raw.registry?.url !== undefined) {
    const problem = urlProblem(raw.registry.url)
    if (problem) throw source.error(['registry', 'url'], problem, 'for example postgres://qm@db.example:5432/platform?sslmode=verify-full')
    return {kind: 'postgres', url: new DatabaseUrl(raw.registry.url), table, host}
  }
  return {kind: 'sqlite', path: resolve(dir, raw.registry?.path ?? join(STATE_DIR_NAME, 'registry.sqlite3')), table, host}
}

function checkPorts(source: ManifestSource, raw: RawManifest, [first, last]: readonly [number, number]): void {
  const owners = new Map<number, string>()
  for (const [name, service] of Object.entries(raw.services)) {
    const path: FieldPath = ['services', name, 'port']
    const port = service.port
    if (port === undefined || port === 'auto') continue
    if (typeof port === 'string') throw source.error(path, `must be auto or a port number in ${first}–${last}, got ${JSON.stringify(port)}`)
    if (!Number.isInteger(port) || port < first || port > last) {
      throw source.error(path, `must be in ${first}–${last}, got ${port}`, 'use "port: auto" or change port_range')
    }
    if ((service.instances ?? 1) > 1) {
      throw source.error(path, `a fixed port serves one process, but instances is ${service.instances}`, 'use "port: auto" so each instance gets its own port')
    }
    const owner = owners.get(port)
    if (owner) throw source.error(path, `port ${port} is already given to ${owner}`, 'give each service its own port, or use "port: auto"')
    owners.set(port, name)
  }
}

function checkDependencies(source: ManifestSource, raw: RawManifest): void {
  const names = new Set(Object.keys(raw.services))
  for (const [name, service] of Object.entries(raw.services)) {
    for (const [index, dependency] of (service.depends_on ?? []).entries()) {
      const path: FieldPath = ['services', name, 'depends_on', index]
      if (dependency === name) throw source.error(path, `${name} cannot depend on itself`)
      if (!names.has(dependency)) {
        throw source.error(path, `unknown service "${dependency}"`, `services defined here: ${[...names].join(', ')}`)
      }
    }
  }
  const cycle = findCycle(raw.services)
  if (cycle) {
    throw source.error(['services', cycle[0]!, 'depends_on'], `dependency cycle: ${cycle.join(' → ')}`, 'remove one of these depends_on entries')
  }
}

function findCycle(services: Record<string, RawService>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name]
    state.set(name, 'visiting')
    stack.push(name)
    for (const dependency of services[name]?.depends_on ?? []) {
      const cycle = visit(dependency)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const name of Object.keys(services)) {
    const cycle = visit(name)
    if (cycle) return cycle
  }
  return undefined
}

function resolveService(dir: string, name: string, defaults: RawSettings, service: RawService): ServiceSpec {
  const pick = <K extends keyof RawSettings>(key: K): RawSettings[K] => service[key] ?? defaults[key]
  const health: RawHealth = {...defaults.health, ...service.health}
  const backoff: RawBackoff = {...defaults.backoff, ...service.backoff}
  const logs: RawLogs = {...defaults.logs, ...service.logs}
  const env = Object.fromEntries(
    Object.entries({...defaults.env, ...service.env}).map(([key, value]) => [key, String(value)]),
  )
  const spec: ServiceSpec = {
    name,
    command: service.command,
    port: typeof service.port === 'number' ? service.port : 'auto',
    cwd: resolve(dir, pick('cwd') ?? SERVICE_DEFAULTS.cwd),
    env,
    certs: certPaths(resolve(dir, pick('certs') ?? SERVICE_DEFAULTS.certs)),
    maxWorkers: pick('max_workers') ?? SERVICE_DEFAULTS.max_workers,
    logLevel: pick('log_level') ?? SERVICE_DEFAULTS.log_level,
    restart: pick('restart') ?? SERVICE_DEFAULTS.restart,
    stopTimeoutMs: durationMs(pick('stop_timeout') ?? SERVICE_DEFAULTS.stop_timeout),
    drainDelayMs: durationMs(pick('drain_delay') ?? SERVICE_DEFAULTS.drain_delay),
    rollout: resolveRollout({...defaults.rollout, ...service.rollout}),
    hooks: resolveHooks({...defaults.hooks, ...service.hooks}),
    health: resolveHealth(health),
    backoff: resolveBackoff(backoff),
    logs: resolveLogs(logs),
    dependsOn: service.depends_on ?? [],
    instances: service.instances ?? 1,
  }
  if (service.expected_version !== undefined) spec.expectedVersion = service.expected_version
  const resources = pick('resources')
  if (resources !== undefined) spec.resources = resolveResources(resources)
  return spec
}

function resolveHealth(raw: RawHealth): HealthSettings {
  return {
    type: raw.type ?? HEALTH_DEFAULTS.type,
    intervalMs: durationMs(raw.interval ?? HEALTH_DEFAULTS.interval),
    timeoutMs: durationMs(raw.timeout ?? HEALTH_DEFAULTS.timeout),
    startTimeoutMs: durationMs(raw.start_timeout ?? HEALTH_DEFAULTS.start_timeout),
    failureThreshold: raw.failure_threshold ?? HEALTH_DEFAULTS.failure_threshold,
    serverName: raw.server_name ?? DEFAULT_SERVER_NAME,
    versionKeys: raw.version_key ? [raw.version_key] : [...DEFAULT_VERSION_KEYS],
  }
}

function resolveBackoff(raw: RawBackoff): BackoffSettings {
  return {
    initialMs: durationMs(raw.initial ?? BACKOFF_DEFAULTS.initial),
    maxMs: durationMs(raw.max ?? BACKOFF_DEFAULTS.max),
    factor: raw.factor ?? BACKOFF_DEFAULTS.factor,
    resetAfterMs: durationMs(raw.reset_after ?? BACKOFF_DEFAULTS.reset_after),
    maxFailures: raw.max_failures ?? BACKOFF_DEFAULTS.max_failures,
  }
}

function resolveHooks(raw: RawHooks): HookSettings {
  return {
    ...(raw.on_fatal ? {onFatal: raw.on_fatal} : {}),
    ...(raw.on_unhealthy ? {onUnhealthy: raw.on_unhealthy} : {}),
    ...(raw.on_restart ? {onRestart: raw.on_restart} : {}),
    ...(raw.on_recovered ? {onRecovered: raw.on_recovered} : {}),
    timeoutMs: durationMs(raw.timeout ?? HOOK_DEFAULTS.timeout),
  }
}

function resolveRollout(raw: RawRollout): RolloutSettings {
  return {drainDelayMs: durationMs(raw.drain_delay ?? ROLLOUT_DEFAULTS.drain_delay), watchMs: durationMs(raw.watch ?? ROLLOUT_DEFAULTS.watch)}
}

function resolveResources(raw: RawResources): NonNullable<ServiceSpec['resources']> {
  const list = (entry: RawResourceList) => Object.fromEntries(Object.entries(entry).map(([key, value]) => [key, String(value)]))
  return {...(raw.requests ? {requests: list(raw.requests)} : {}), ...(raw.limits ? {limits: list(raw.limits)} : {})}
}

function resolveLogs(raw: RawLogs): LogSettings {
  return {maxBytes: sizeBytes(raw.max_size ?? LOG_DEFAULTS.max_size), keep: raw.keep ?? LOG_DEFAULTS.keep}
}

export function certPaths(dir: string): CertPaths {
  const at = (file: string) => (isAbsolute(file) ? file : join(dir, file))
  return {
    dir,
    ca: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
  }
}
