// The manifest as the rest of qm sees it: every default applied, every duration in
// milliseconds, every path absolute. Nothing outside src/manifest reads raw YAML.
import type {DatabaseUrl} from './database-url.js'

export type RestartPolicy = 'always' | 'on-failure' | 'never'
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'
export type ProbeType = 'auto' | 'grpc' | 'call' | 'tcp'

export interface HealthSettings {
  type: ProbeType
  intervalMs: number
  timeoutMs: number
  startTimeoutMs: number
  failureThreshold: number
  /** TLS name the service certificate must carry. */
  serverName: string
  /** Metadata keys read for the version, first present wins. */
  versionKeys: string[]
}

export interface BackoffSettings {
  initialMs: number
  maxMs: number
  factor: number
  resetAfterMs: number
  maxFailures: number
}

export interface LogSettings {
  maxBytes: number
  keep: number
}

export interface CertPaths {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

/** Kubernetes quantities as the manifest writes them ("250m", "0.5", "128Mi"). */
export interface ResourceList {
  cpu?: string
  memory?: string
}

/** Requests and limits for `qm export` (Kubernetes resources, systemd CPUQuota/MemoryMax); qm itself enforces none. */
export interface ResourceSettings {
  requests?: ResourceList
  limits?: ResourceList
}

/** Commands (argv) run on what happens to a service; each killed after timeoutMs. */
export interface HookSettings {
  onFatal?: string[]
  onUnhealthy?: string[]
  onRestart?: string[]
  onRecovered?: string[]
  timeoutMs: number
}

/** qm rollout: how long the old process drains, and how long it is kept as the fallback. */
export interface RolloutSettings {
  drainDelayMs: number
  watchMs: number
}

export interface ServiceSpec {
  name: string
  command: string[]
  port: number | 'auto'
  cwd: string
  env: Record<string, string>
  certs: CertPaths
  maxWorkers: number
  logLevel: LogLevel
  restart: RestartPolicy
  stopTimeoutMs: number
  /** A stop's wait, after the row goes inactive, for client connections to end. */
  drainDelayMs: number
  rollout: RolloutSettings
  hooks: HookSettings
  health: HealthSettings
  backoff: BackoffSettings
  logs: LogSettings
  expectedVersion?: string
  dependsOn: string[]
  instances: number
  resources?: ResourceSettings
}

export type RegistrySettings = SqliteRegistrySettings | PostgresRegistrySettings

export interface SqliteRegistrySettings {
  kind: 'sqlite'
  path: string
  table: string
  host: string
}

/** registry.url, or QM_REGISTRY_URL, which overrides the manifest. */
export interface PostgresRegistrySettings {
  kind: 'postgres'
  /** Shows itself with the password masked; reveal() is for the driver only. */
  url: DatabaseUrl
  table: string
  host: string
}

export interface Manifest {
  /** Absolute path of the manifest file. */
  file: string
  /** The folder holding it; relative paths in it are resolved against this. */
  dir: string
  /** qm's own state beside the manifest: registry, logs, daemon socket. */
  stateDir: string
  /** The manifest's `project:`, when it names one; exports default to the folder's name. */
  project?: string
  registry: RegistrySettings
  /** metrics.listen: where the daemon serves /metrics over HTTP; absent, only the control socket has them. */
  metrics?: {listen: {host: string; port: number}}
  portRange: [number, number]
  /** In manifest order. */
  services: ServiceSpec[]
}
