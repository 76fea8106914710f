// Which certificates in use run out soon, for the line `qm status` prints under its
// table. Reads only the dates (Node's own X509Certificate), so status stays fast.
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import type {CertPaths} from '../manifest/types.js'
import {EXPIRY_WARNING_DAYS} from './check.js'
import {utcTimestamp} from '../utc-time.js'

export interface ExpiringCertificate {
  file: string
  expiresAt: string
  daysLeft: number
}

const DAY_MS = 86_400_000

export function expiringCertificates(sets: readonly CertPaths[], now = new Date()): ExpiringCertificate[] {
  return certificateExpiries(sets, now).filter((certificate) => certificate.daysLeft < EXPIRY_WARNING_DAYS)
}

/** Every certificate in use (CA, server, client) that can be read, with when it runs out. */
export function certificateExpiries(sets: readonly CertPaths[], now = new Date()): ExpiringCertificate[] {
  const files = new Set(sets.flatMap((paths) => [paths.ca, paths.serverCert, paths.clientCert]))
  const all: ExpiringCertificate[] = []
  for (const file of files) {
    let certificate: X509Certificate
    try {
      certificate = new X509Certificate(readFileSync(file))
    } catch {
      continue // missing or unreadable: qm start and qm certs check report that, not status
    }
    const expiresAt = new Date(certificate.validTo)
    all.push({file, expiresAt: utcTimestamp(expiresAt.getTime()), daysLeft: Math.floor((expiresAt.getTime() - now.getTime()) / DAY_MS)})
  }
  return all
}
