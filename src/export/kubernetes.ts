// `qm export kubernetes`: checks names, namespace and the output file before the registry
// or the disk is touched, gives each service its registry port, and returns the YAML
// with the kubectl commands that make the certificate Secrets from the files on disk.
import {resolve} from 'node:path'
import {UsageError} from '../errors.js'
import type {Manifest} from '../manifest/types.js'
import {buildKubernetes, type KubernetesExport} from './kubernetes-objects.js'
import {checkTargets, writeOutputs} from './output.js'
import {registeredPorts} from './ports.js'
import {projectName, selectServices} from './selection.js'

export interface KubernetesExportRequest {
  names: readonly string[]
  /** Required: a default image would be one no registry has, and pods would sit in ImagePullBackOff. */
  image?: string
  /** The project name in object names and labels; default from the manifest. */
  project?: string
  namespace?: string
  /** A file, or "-" (the default) for stdout. */
  out?: string
  force: boolean
  cwd: string
}

export interface KubernetesExportResult extends Omit<KubernetesExport, 'secrets'> {
  /** The file written, or "-" when the YAML is for stdout. */
  out: string
  secrets: {name: string; command: string}[]
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

export async function exportKubernetes(manifest: Manifest, req: KubernetesExportRequest): Promise<KubernetesExportResult> {
  const services = selectServices(manifest, req.names)
  if (req.namespace !== undefined && !NAMESPACE.test(req.namespace)) {
    throw new UsageError(`--namespace "${req.namespace}" is not a Kubernetes namespace name`, 'lowercase letters, digits and dashes, at most 63')
  }
  if (req.image === undefined) {
    throw new UsageError('--image is required: the image that holds the services and qm', 'for example --image registry.example/ms:1.4; the image holds the manifest\'s folder at /app and qm on its PATH')
  }
  if (req.image.trim() === '' || /\s/.test(req.image)) {
    throw new UsageError(`--image "${req.image}" is not an image reference`, 'for example registry.example/ms:1.4')
  }
  const project = projectName(manifest, req.project)
  const out = req.out === undefined || req.out === '-' ? '-' : resolve(req.cwd, req.out)
  if (out !== '-') checkTargets([out], req.force)

  const ports = await registeredPorts(manifest, services.map((service) => ({name: service.name, service})))
  const built = buildKubernetes({
    manifest,
    services,
    ports,
    project,
    image: req.image,
    ...(req.namespace === undefined ? {} : {namespace: req.namespace}),
  })
  if (out !== '-') writeOutputs([{path: out, text: built.text}])
  const secrets = built.secrets.map(({name, certs}) => ({
    name,
    command: shellWords([
      'kubectl', 'create', 'secret', 'generic', name,
      ...(req.namespace === undefined ? [] : ['--namespace', req.namespace]),
      ...(['ca', 'serverCert', 'serverKey', 'clientCert', 'clientKey'] as const).map((key) => `--from-file=${certs[key].split('/').pop()}=${certs[key]}`),
    ]),
  }))
  return {text: built.text, objects: built.objects, out, secrets}
}

function shellWords(words: string[]): string {
  return words.map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ')
}
