// Every default of the manifest, once, in the form the manifest writes it. The resolver
// applies them; the probe, `qm call` and the exporters read the resolved values and
// fall back to these only for a target that is not in the manifest.

export const DEFAULT_PORT_RANGE: [number, number] = [50051, 50090]
export const STATE_DIR_NAME = '.qm'
export const DEFAULT_REGISTRY_HOST = 'localhost'

/** The TLS name a service certificate must carry, unless health.server_name says otherwise. */
export const DEFAULT_SERVER_NAME = 'localhost'
/** Metadata keys read for the running version, the first present wins. */
export const DEFAULT_VERSION_KEYS: readonly string[] = ['x-service-version', 'service-version', 'version']
/** oauth2.url of the end-of-stream frame a Call probe sends. */
export const DEFAULT_OAUTH2_URL = 'qm://health-probe'

export const SERVICE_DEFAULTS = {
  cwd: '.',
  certs: './certs',
  max_workers: 10,
  log_level: 'INFO',
  restart: 'always',
  stop_timeout: '10s',
  // Plain qm stop stays quick; a platform with long Calls sets its own.
  drain_delay: '0s',
} as const

export const ROLLOUT_DEFAULTS = {drain_delay: '5s', watch: '2s'} as const
export const HOOK_DEFAULTS = {timeout: '10s'} as const

export const HEALTH_DEFAULTS = {type: 'auto', interval: '10s', timeout: '2s', start_timeout: '30s', failure_threshold: 3} as const
export const BACKOFF_DEFAULTS = {initial: '500ms', max: '30s', factor: 2, reset_after: '60s', max_failures: 10} as const
export const LOG_DEFAULTS = {max_size: '10MB', keep: 3} as const
