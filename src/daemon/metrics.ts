// The daemon's metrics in Prometheus's text format, through prom-client: its registry,
// exposition and content type, and Node's own process metrics (process_*, nodejs_*).
// The supervisor keeps its counts as plain numbers on each record (supervisor/tally.ts);
// each qm family here is a collector that reads them when scraped. prom-client is loaded
// at the first scrape (over HTTP or qm metrics), never at the daemon's start: loading it
// takes the daemon's event loop for about 0.1 s, which a start should not wait behind.
import {createServer, type Server} from 'node:http'
import type {Registry} from 'prom-client'
import type {ExpiringCertificate} from '../certs/expiry.js'
import {PROBE_BUCKETS_SECONDS, type InstanceMetrics} from '../supervisor/tally.js'

export interface MetricsSource {
  instances: () => InstanceMetrics[]
  certificates: () => ExpiringCertificate[]
  pendingRegistryWrites: () => number
}

type Labels = Record<string, string | number>
interface Sample {
  value: number
  labels: Labels
  metricName?: string
}
type Family = {name: string; help: string; type: 'gauge' | 'counter' | 'histogram'; samples: (source: MetricsSource) => Sample[]}

const STATES = ['stopped', 'starting', 'running', 'unhealthy', 'backoff', 'draining', 'stopping', 'exited', 'fatal']
const of = (i: InstanceMetrics): Labels => ({service: i.service, instance: i.name})

const FAMILIES: Family[] = [
  {name: 'qm_service_up', help: 'Whether the instance runs and its last probe answered SERVING.', type: 'gauge', samples: (s) => s.instances().map((i) => ({value: i.up ? 1 : 0, labels: of(i)}))},
  {
    name: 'qm_service_state',
    help: 'The instance state: 1 for the state it is in, 0 for the others.',
    type: 'gauge',
    samples: (s) => s.instances().flatMap((i) => STATES.map((state) => ({value: i.state === state ? 1 : 0, labels: {...of(i), state}}))),
  },
  {
    name: 'qm_service_restarts_total',
    help: 'Restarts since the daemon started, by why: crash (an exit or a failed start), liveness (failed probes), operator (restart or rollout), reload (a changed manifest).',
    type: 'counter',
    samples: (s) => s.instances().flatMap((i) => (['crash', 'liveness', 'operator', 'reload'] as const).map((reason) => ({value: i.restarts[reason] ?? 0, labels: {...of(i), reason}}))),
  },
  {
    name: 'qm_probe_failures_total',
    help: 'Probes that did not answer SERVING, by why: refused, timeout, tls_qm_side (qm credentials), tls_service_side, not_serving, protocol.',
    type: 'counter',
    samples: (s) => s.instances().flatMap((i) => Object.entries(i.probeFailures).map(([reason, value]) => ({value: value ?? 0, labels: {...of(i), reason}}))),
  },
  {
    name: 'qm_probe_duration_seconds',
    help: 'Health probe latency over mTLS, by probe method (grpc, call, tcp).',
    type: 'histogram',
    samples: (s) =>
      s.instances().flatMap((i) =>
        Object.entries(i.probeLatency).flatMap(([method, histogram]) => {
          const labels = {...of(i), method}
          return [
            ...PROBE_BUCKETS_SECONDS.map((le, b) => ({metricName: 'qm_probe_duration_seconds_bucket', value: histogram!.buckets[b]!, labels: {...labels, le}})),
            {metricName: 'qm_probe_duration_seconds_bucket', value: histogram!.count, labels: {...labels, le: '+Inf'}},
            {metricName: 'qm_probe_duration_seconds_sum', value: histogram!.sum, labels},
            {metricName: 'qm_probe_duration_seconds_count', value: histogram!.count, labels},
          ]
        }),
      ),
  },
  {
    name: 'qm_service_version_info',
    help: 'The version the instance reports in its metadata, beside the manifest\'s expected_version; matches is 1 when they agree or nothing is expected.',
    type: 'gauge',
    samples: (s) =>
      s
        .instances()
        .filter((i) => i.version !== null)
        .map((i) => ({value: 1, labels: {...of(i), version: i.version!, expected_version: i.expectedVersion ?? '', matches: i.expectedVersion === null || i.expectedVersion === i.version ? '1' : '0'}})),
  },
  {
    name: 'qm_service_cpu_seconds_total',
    help: 'CPU time of the instance\'s current process (user and system).',
    type: 'counter',
    samples: (s) => s.instances().filter((i) => i.cpuSeconds !== null).map((i) => ({value: i.cpuSeconds!, labels: of(i)})),
  },
  {
    name: 'qm_service_resident_memory_bytes',
    help: 'Resident memory of the instance\'s current process.',
    type: 'gauge',
    samples: (s) => s.instances().filter((i) => i.residentBytes !== null).map((i) => ({value: i.residentBytes!, labels: of(i)})),
  },
  {
    name: 'qm_certificate_expiry_timestamp_seconds',
    help: 'When each certificate in use runs out, as a Unix time.',
    type: 'gauge',
    samples: (s) => s.certificates().map((c) => ({value: Date.parse(c.expiresAt) / 1000, labels: {file: c.file}})),
  },
  {
    name: 'qm_registry_pending_writes',
    help: 'is_active changes the daemon could not write to the registry yet (it is out of reach).',
    type: 'gauge',
    samples: (s) => [{value: s.pendingRegistryWrites(), labels: {}}],
  },
]

export class DaemonMetrics {
  private registry: Promise<Registry> | undefined
  private server: Server | undefined

  constructor(private readonly source: MetricsSource) {}

  /** The text a scrape gets, and its content type. */
  async text(): Promise<{contentType: string; body: string}> {
    const registry = await this.load()
    return {contentType: registry.contentType, body: await registry.metrics()}
  }

  /** Serves GET /metrics on the address the manifest names, and nothing else. */
  async listen(address: {host: string; port: number}): Promise<void> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
        response.writeHead(404, {'content-type': 'text/plain'}).end('qm serves /metrics only\n')
        return
      }
      this.text().then(
        ({contentType, body}) => response.writeHead(200, {'content-type': contentType}).end(body),
        (error: unknown) => response.writeHead(500, {'content-type': 'text/plain'}).end(`${(error as Error).message}\n`),
      )
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(address.port, address.host, () => resolve())
    })
    this.server = server
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  private load(): Promise<Registry> {
    this.registry ??= import('prom-client').then(({Registry: PromRegistry, collectDefaultMetrics}) => {
      const registry = new PromRegistry()
      collectDefaultMetrics({register: registry})
      for (const family of FAMILIES) {
        // A collector of prom-client's own shape: read at each scrape from the supervisor's counts.
        registry.registerMetric({
          name: family.name,
          help: family.help,
          type: family.type,
          get: async () => ({name: family.name, help: family.help, type: family.type, values: family.samples(this.source), aggregator: 'sum'}),
        } as unknown as Parameters<Registry['registerMetric']>[0])
      }
      return registry
    })
    return this.registry
  }
}
