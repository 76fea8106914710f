// The contract between the commands and the supervisor's host: one params and one result
// type per method. The daemon serves it from one method table (src/daemon/daemon.ts), the
// client calls it typed (client.ts), and the wire carries it as JSON lines (protocol.ts).
// Start, stop, restart and reload stream the state changes they cause as events.
import type {ExpiringCertificate} from '../certs/expiry.js'
import type {RegistryBacklog} from '../supervisor/registry-writes.js'
import type {RolloutOptions} from '../supervisor/rollout.js'
import type {AttemptResult, InstanceStatus, Plan, ProbeEvent, ReloadReport, RolloutPhase, RolloutResult, StopResult, Transition} from '../supervisor/states.js'

export interface Contract {
  ping: {params: Record<string, never>; result: {pid: number; manifest: string}}
  status: {params: {names?: string[]}; result: StatusResult}
  /**
   * registry, on start, stop and restart: the is_active changes still unwritten when the
   * work was done (the registry out of reach), so the command can say the rows are behind.
   * Absent from a daemon started by an older qm.
   */
  start: {params: {names?: string[]}; result: {reload: ReloadReport; results: AttemptResult[]; registry?: RegistryBacklog}}
  /** drainMs: each serving process's drain instead of its drain_delay (0: --now). */
  stop: {params: {names?: string[]; drainMs?: number}; result: {results: StopResult[]; registry?: RegistryBacklog}}
  /** rollout: services with port: auto are rolled out instead of stopped and started. */
  restart: {params: {names?: string[]; drainMs?: number; rollout?: boolean}; result: {results: AttemptResult[]; registry?: RegistryBacklog}}
  reload: {params: {names?: string[]}; result: {reload: ReloadReport}}
  rollout: {params: {names?: string[]} & RolloutOptions; result: {reload: ReloadReport; results: RolloutResult[]}}
  shutdown: {params: {stopServices?: boolean; drainMs?: number}; result: {pid: number}}
  /** The daemon's metrics in Prometheus's text format. */
  metrics: {params: Record<string, never>; result: {text: string}}
  /** State changes and probe answers, from sinceMs (recorded state changes only) and then live, until the client goes. */
  events: {params: {names?: string[]; sinceMs?: number}; result: Record<string, never>}
}

export type Method = keyof Contract
export type Params<M extends Method> = Contract[M]['params']
export type Result<M extends Method> = Contract[M]['result']

/**
 * The services' states. The daemon answers it; with no daemon, the client answers the
 * same type from the records (`daemon` and `registry` null), by the same selection rules.
 */
export interface StatusResult {
  daemon: {pid: number} | null
  services: InstanceStatus[]
  /** is_active changes the daemon could not write yet (the registry out of reach); null without a daemon. */
  registry: RegistryBacklog | null
  /** Certificates in use that expire within 30 days, or already have. */
  certificates: ExpiringCertificate[]
}

/**
 * What a start, stop, restart, rollout or reload streams before its result: for all but a
 * reload, first its plan (what it will touch, in order), then each state change it causes,
 * and for a rollout each step of each instance.
 */
export type ContractEvent = (Plan & {type: 'plan'}) | (Transition & {type: 'transition'}) | (RolloutPhase & {type: 'step'}) | (ProbeEvent & {type: 'probe'})

/** The daemon's side: one handler per method. */
export type MethodTable = {[M in Method]: (params: Params<M>, emit: (event: ContractEvent) => void, gone: AbortSignal) => Promise<Result<M>>}

export const METHODS: ReadonlySet<Method> = new Set<Method>(['ping', 'status', 'start', 'stop', 'restart', 'reload', 'rollout', 'shutdown', 'events', 'metrics'])
