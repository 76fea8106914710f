// Decides what `qm certs check` looks at: the certificate folders of the manifest's
// services and its registry host when there is a manifest, else ./certs and localhost;
// --dir and --host override either.
import {join, resolve} from 'node:path'
import {loadOptionalManifest} from '../manifest/load.js'
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
  const manifest = await loadOptionalManifest({flag: req.manifestFlag, env: req.env, cwd: req.cwd})
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


function distinctSets(all: CertPaths[]): CertPaths[] {
  const byKey = new Map<string, CertPaths>()
  for (const p of all) byKey.set([p.ca, p.serverCert, p.serverKey, p.clientCert, p.clientKey].join('\0'), p)
  return [...byKey.values()]
}
