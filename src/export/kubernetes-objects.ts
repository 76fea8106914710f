// The objects of `qm export kubernetes`, built from the resolved manifest alone (pure):
// per service a Deployment and a Service on its registry port, certificates mounted
// from a Secret the output only names, and exec probes running `qm health` over mTLS
// (the kubelet's own gRPC probe speaks no TLS). Each object is validated with
// kubernetes-models before it is serialized.
import {posix, relative, sep} from 'node:path'
import {Deployment} from 'kubernetes-models/apps/v1/Deployment'
import {Service} from 'kubernetes-models/v1/Service'
import type {IContainer} from 'kubernetes-models/v1/Container'
import type {IProbe} from 'kubernetes-models/v1/Probe'
import {stringify} from 'yaml'
import {QmError, UsageError} from '../errors.js'
import type {CertPaths, Manifest, ServiceSpec} from '../manifest/types.js'
import {headerLines} from './output.js'
import {durationText} from './units.js'

/** Where the Secret's files appear in each container. */
export const CERTS_MOUNT = '/etc/qm/certs'
/** Where the image holds the manifest's folder; each service's cwd is resolved under it. */
export const IMAGE_PROJECT_DIR = '/app'

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/
/** qm's own start-up inside the probe (node, the probe, the certificates) on top of the probe's timeout. */
const PROBE_PROCESS_MARGIN_S = 3
/** How often the startup probe asks while the service starts: each ask is a node process. */
const STARTUP_PERIOD_S = 2

export interface KubernetesPlan {
  manifest: Manifest
  services: readonly ServiceSpec[]
  /** Registry port of every exported service (its first instance's row). */
  ports: ReadonlyMap<string, number>
  project: string
  image: string
  namespace?: string
}

export interface CertificateSecret {
  name: string
  certs: CertPaths
}

export interface KubernetesExport {
  /** Multi-document YAML, header comment first. */
  text: string
  objects: {kind: string; name: string}[]
  secrets: CertificateSecret[]
}

export function kubernetesName(serviceName: string): string {
  const name = serviceName.replaceAll('_', '-')
  if (!DNS_LABEL.test(name)) throw new UsageError(`service name ${serviceName} gives the Kubernetes name "${name}", which is longer than 63 characters`, 'export it under a shorter name')
  return name
}

/** One Secret per certificate folder the services use, in manifest order. */
export function certificateSecrets(project: string, services: readonly ServiceSpec[]): CertificateSecret[] {
  const folders = [...new Map(services.map((service) => [service.certs.dir, service.certs])).values()]
  return folders.map((certs, index) => ({name: `qm-${project}-certs${index === 0 ? '' : `-${index + 1}`}`, certs}))
}

export function buildKubernetes(plan: KubernetesPlan): KubernetesExport {
  const secrets = certificateSecrets(plan.project, plan.services)
  const documents: string[] = []
  const objects: KubernetesExport['objects'] = []
  for (const service of plan.services) {
    const name = kubernetesName(service.name)
    const secret = secrets.find((candidate) => candidate.certs.dir === service.certs.dir)!
    const port = plan.ports.get(service.name)!
    for (const object of [deployment(plan, service, name, port, secret.name), kubernetesService(plan, name, port)]) {
      try {
        object.validate()
      } catch (error) {
        throw new QmError(`the ${object.kind} for ${service.name} is not valid Kubernetes: ${(error as Error).message}`, 1, 'EXPORT')
      }
      objects.push({kind: object.kind, name})
      const notes = object.kind === 'Deployment' ? unmappedSettings(service) : []
      documents.push(`---\n${notes.map((line) => `# ${line}\n`).join('')}${stringify(object.toJSON(), {lineWidth: 0})}`)
    }
  }
  const header = [
    ...headerLines('kubernetes', plan.manifest.file),
    ...secrets.map((secret) => `# Certificates: Secret ${secret.name}, which this file names but does not create (qm export prints the kubectl command).`),
  ]
  return {text: `${header.join('\n')}\n${documents.join('')}`, objects, secrets}
}

function labels(plan: KubernetesPlan, name: string): Record<string, string> {
  return {'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': plan.project, 'app.kubernetes.io/managed-by': 'qm'}
}

function selector(plan: KubernetesPlan, name: string): Record<string, string> {
  return {'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': plan.project}
}

function metadata(plan: KubernetesPlan, name: string) {
  return {name, ...(plan.namespace === undefined ? {} : {namespace: plan.namespace}), labels: labels(plan, name)}
}

function deployment(plan: KubernetesPlan, service: ServiceSpec, name: string, port: number, secretName: string): Deployment {
  const mounted = (file: string) => posix.join(CERTS_MOUNT, file)
  const container: IContainer = {
    name,
    image: plan.image,
    workingDir: imageWorkingDir(plan.manifest, service),
    command: service.command,
    args: [
      '--port', String(port),
      '--ca-cert', mounted('ca.crt'),
      '--server-cert', mounted('server.crt'),
      '--server-key', mounted('server.key'),
      '--max-workers', String(service.maxWorkers),
      '--log-level', service.logLevel,
    ],
    ports: [{name: 'grpc', containerPort: port, protocol: 'TCP'}],
    ...(Object.keys(service.env).length > 0 ? {env: Object.entries(service.env).map(([envName, value]) => ({name: envName, value}))} : {}),
    ...(service.resources ? {resources: resourceRequirements(service.resources)} : {}),
    volumeMounts: [{name: 'qm-certs', mountPath: CERTS_MOUNT, readOnly: true}],
    ...probes(service, port),
  }
  return new Deployment({
    metadata: metadata(plan, name),
    spec: {
      replicas: service.instances,
      selector: {matchLabels: selector(plan, name)},
      template: {
        metadata: {labels: labels(plan, name)},
        spec: {
          terminationGracePeriodSeconds: Math.ceil(service.stopTimeoutMs / 1000),
          containers: [container],
          // Owner-only, as qm certs check wants key files; the image's user must own them (root, or fsGroup).
          volumes: [{name: 'qm-certs', secret: {secretName, defaultMode: 0o400}}],
        },
      },
    },
  })
}

function resourceRequirements({requests, limits}: NonNullable<ServiceSpec['resources']>): NonNullable<IContainer['resources']> {
  const list = (entry: Record<string, string | undefined>) => Object.fromEntries(Object.entries(entry).filter((pair): pair is [string, string] => pair[1] !== undefined))
  return {...(limits ? {limits: list({...limits})} : {}), ...(requests ? {requests: list({...requests})} : {})}
}

function kubernetesService(plan: KubernetesPlan, name: string, port: number): Service {
  return new Service({
    metadata: metadata(plan, name),
    spec: {
      selector: selector(plan, name),
      ports: [{name: 'grpc', port, targetPort: 'grpc', protocol: 'TCP'}],
    },
  })
}

/** Startup (start_timeout), readiness (every interval, out at one failure) and liveness (restart at failure_threshold). */
function probes(service: ServiceSpec, port: number): Pick<IContainer, 'startupProbe' | 'readinessProbe' | 'livenessProbe'> {
  const {health} = service
  const command = [
    'qm', 'health', `127.0.0.1:${port}`,
    '--certs', CERTS_MOUNT,
    '--type', health.type,
    '--timeout', durationText(health.timeoutMs),
    '--server-name', health.serverName,
  ]
  const periodSeconds = Math.max(1, Math.round(health.intervalMs / 1000))
  const timeoutSeconds = Math.ceil(health.timeoutMs / 1000) + PROBE_PROCESS_MARGIN_S
  const probe = (extra: Omit<IProbe, 'exec'>): IProbe => ({exec: {command}, timeoutSeconds, ...extra})
  return {
    startupProbe: probe({periodSeconds: STARTUP_PERIOD_S, failureThreshold: Math.max(1, Math.ceil(health.startTimeoutMs / 1000 / STARTUP_PERIOD_S))}),
    readinessProbe: probe({periodSeconds, failureThreshold: 1}),
    livenessProbe: probe({periodSeconds, failureThreshold: health.failureThreshold}),
  }
}

function imageWorkingDir(manifest: Manifest, service: ServiceSpec): string {
  const inside = relative(manifest.dir, service.cwd)
  if (inside === '..' || inside.startsWith(`..${sep}`) || inside.startsWith(sep)) {
    throw new UsageError(`${service.name}'s cwd ${service.cwd} lies outside the manifest's folder ${manifest.dir}`, `the image holds that folder at ${IMAGE_PROJECT_DIR}; set cwd inside it`)
  }
  return posix.join(IMAGE_PROJECT_DIR, ...inside.split(sep))
}

/** What qm does that a Deployment cannot say, as comments beside it. */
function unmappedSettings(service: ServiceSpec): string[] {
  const notes: string[] = []
  if (service.restart !== 'always') notes.push(`restart: ${service.restart} has no Deployment equivalent: Kubernetes restarts every container that exits.`)
  notes.push(`backoff is Kubernetes' own CrashLoopBackOff (10s doubling to 5m), not ${durationText(service.backoff.initialMs)} growing to ${durationText(service.backoff.maxMs)}.`)
  if (service.dependsOn.length > 0) notes.push(`depends_on ${service.dependsOn.join(', ')}: Kubernetes starts everything at once; ${service.name} must retry until they answer.`)
  return notes
}
