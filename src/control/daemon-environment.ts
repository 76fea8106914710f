// The background daemon's environment: the command's own, less what only costs the daemon.
//
// NODE_EXTRA_CA_CERTS (set in many ops shells, for a proxy's CA) makes Node build its
// store of public root certificates as the process starts, whether or not it ever makes a
// TLS connection that trusts them: on a 2-core machine, 41 ms more for every `node -e 0`
// (24 ms of them for Node's own roots, with a file of one certificate), and a daemon's
// start about as much longer (`qm start` with one service and no daemon, 8 runs in turns:
// 783 ms against 810). Its resident memory after a start of 40 was the same either way,
// within the noise of three rounds each, though a bare `node` holds 1.8 MiB more. With an
// SQLite registry the daemon makes no connection that trusts those roots: its probes trust
// the manifest's CA only. With PostgreSQL the registry's TLS may rely on them, so the
// variable stays. Either way the services and hooks it starts get the variable as the
// command had it: the daemon puts it back into its environment before it loads the
// manifest or starts anything.
import type {RegistrySettings} from '../manifest/types.js'

const EXTRA_CA_CERTS = 'NODE_EXTRA_CA_CERTS'
/** Where the command leaves the value for the daemon to put back. */
const SET_ASIDE = 'QM_DAEMON_SET_ASIDE_NODE_EXTRA_CA_CERTS'

export function daemonEnvironment(env: NodeJS.ProcessEnv, registry: Pick<RegistrySettings, 'kind'>): NodeJS.ProcessEnv {
  const value = env[EXTRA_CA_CERTS]
  if (registry.kind !== 'sqlite' || value === undefined) return env
  const {[EXTRA_CA_CERTS]: _setAside, ...rest} = env
  return {...rest, [SET_ASIDE]: value}
}

/** In the daemon, first: the environment as the command that started it had it. */
export function restoreCommandEnvironment(env: NodeJS.ProcessEnv): void {
  const value = env[SET_ASIDE]
  if (value === undefined) return
  env[EXTRA_CA_CERTS] = value
  delete env[SET_ASIDE]
}
