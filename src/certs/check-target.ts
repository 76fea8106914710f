// Decides what `qm certs check` looks at: the certificate folders of the manifest's
// services and its registry host when there is a manifest, else ./certs and localhost;
// --dir and --host override either.
import {join, resolve} from 'node:path'
import {ManifestError} from '../errors.js'
import {findManifest} from '../manifest/find.js'
import {loadManifest} from '../manifest/load.js'
import {certPaths} from '../manifest/resolve.js'
import type {CertPaths} from '../manifest/types.js'
import {type CertFinding, checkCertificates} from './check.js'

export interface CertCheckRequest {
  dir?: string
  host?: string
  manifestFlag?: string
  env: NodeJS.ProcessEnv
  cwd: string
  now?: Date
}

export interface CertCheckResult {
  host: string
  /** The manifest the folders and host came from, when one was found. */
  manifest?: string
  findings: CertFinding[]
  errors: number
  warnings: number
}

export async function runCertificateCheck(req: CertCheckRequest): Promise<CertCheckResult> {
  const manifest = await optionalManifest(req)
  const host = req.host ?? manifest?.registry.host ?? 'localhost'
  let sets: CertPaths[]
  if (req.dir !== undefined || !manifest) sets = [certPaths(resolve(req.cwd, req.dir ?? 'certs'))]
  else if (manifest.services.length === 0) sets = [certPaths(join(manifest.dir, 'certs'))]
  else sets = distinctSets(manifest.services.map((s) => s.certs))
  const findings: CertFinding[] = []
  for (const paths of sets) {
    const opts = {host, caKey: join(paths.dir, 'ca.key'), ...(req.now ? {now: req.now} : {})}
    findings.push(...(await checkCertificates(paths, opts)))
  }
  return {
    host,
    ...(manifest ? {manifest: manifest.file} : {}),
    findings,
    errors: findings.filter((f) => f.level === 'fail').length,
    warnings: findings.filter((f) => f.level === 'warn').length,
  }
}

// A manifest named by -f or QM_MANIFEST must load; one merely absent is no error here,
// since certificates are often made before the manifest is written.
async function optionalManifest(req: CertCheckRequest) {
  const named = req.manifestFlag !== undefined || Boolean(req.env.QM_MANIFEST)
  if (!named) {
    try {
      findManifest({env: req.env, cwd: req.cwd})
    } catch (err) {
      if (err instanceof ManifestError) return undefined
      throw err
    }
  }
  return loadManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd})
}

function distinctSets(all: CertPaths[]): CertPaths[] {
  const byKey = new Map<string, CertPaths>()
  for (const p of all) byKey.set([p.ca, p.serverCert, p.serverKey, p.clientCert, p.clientKey].join('\0'), p)
  return [...byKey.values()]
}
