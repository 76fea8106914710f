// Checks a certificate set the way qm's gRPC clients and grpcio will use it, before they do: every
// file there and parseable, both leaves signed by the CA, keys matching, the server
// names covering the host, the right key usages, dates, and key file permissions.
import {X509Certificate, createPrivateKey, type KeyObject} from 'node:crypto'
import {readFile, stat} from 'node:fs/promises'
import {isIP} from 'node:net'
import {basename} from 'node:path'
import {QmError} from '../errors.js'
import type {CertPaths} from '../manifest/types.js'
import {utcTimestamp} from '../utc-time.js'

export type FindingLevel = 'ok' | 'warn' | 'fail'

export interface CertFinding {
  level: FindingLevel
  /** The file the finding is about, as given in the paths. */
  file: string
  message: string
}

export interface CheckOptions {
  /** The name clients dial: the registry host. */
  host: string
  now?: Date
  /** The CA's private key, checked when the file exists; services never need it. */
  caKey?: string
}

export const EXPIRY_WARNING_DAYS = 30

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const ANY_USAGE = '2.5.29.37.0'
const USAGE_NAMES: Record<string, string> = {[SERVER_AUTH]: 'serverAuth', [CLIENT_AUTH]: 'clientAuth'}
const DAY_MS = 86_400_000

/** A certificate set that grpc-js or grpcio would refuse, or one that fails its peer. */
export class CertificateError extends QmError {
  constructor(message: string, hint?: string) {
    super(message, 1, 'CERTS', hint)
  }
}

export async function checkCertificates(paths: CertPaths, opts: CheckOptions): Promise<CertFinding[]> {
  const now = opts.now ?? new Date()
  const findings: CertFinding[] = []
  const add = (level: FindingLevel, file: string, message: string) => findings.push({level, file, message})
  const caName = basename(paths.ca)

  const ca = await readCertificate(paths.ca, add)
  if (ca) {
    if (ca.ca) add('ok', paths.ca, `CA certificate ${ca.subject.replaceAll('\n', ', ')}`)
    else add('fail', paths.ca, 'is not a CA certificate (basic constraints CA:FALSE)')
    checkDates(ca, paths.ca, now, add)
  }
  if (opts.caKey !== undefined && (await exists(opts.caKey))) {
    const key = await readKey(opts.caKey, add)
    if (ca && key) checkKeyMatch(ca, key, opts.caKey, caName, add)
  }

  for (const leaf of [
    {certFile: paths.serverCert, keyFile: paths.serverKey, usage: SERVER_AUTH},
    {certFile: paths.clientCert, keyFile: paths.clientKey, usage: CLIENT_AUTH},
  ]) {
    const cert = await readCertificate(leaf.certFile, add)
    if (cert) {
      if (ca) {
        // checkIssued compares names only; two dev CAs are often both "qm development CA",
        // so the signature is what tells them apart.
        if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) add('ok', leaf.certFile, `signed by ${caName}`)
        else add('fail', leaf.certFile, `is not signed by the CA in ${caName} (issuer ${cert.issuer.replaceAll('\n', ', ')})`)
      }
      checkUsage(cert, leaf.certFile, leaf.usage, add)
      if (leaf.usage === SERVER_AUTH) checkHost(cert, leaf.certFile, opts.host, add)
      checkDates(cert, leaf.certFile, now, add)
    }
    const key = await readKey(leaf.keyFile, add)
    if (cert && key) checkKeyMatch(cert, key, leaf.keyFile, basename(leaf.certFile), add)
  }
  return findings
}

/**
 * What the supervisor calls before it spawns a service: throws on the first error so the
 * operator reads the reason rather than a TLS handshake failure later, returns warnings.
 */
export async function assertCertificatesUsable(paths: CertPaths, host: string, now?: Date): Promise<CertFinding[]> {
  const findings = await checkCertificates(paths, {host, ...(now ? {now} : {})})
  const failure = findings.find((f) => f.level === 'fail')
  if (failure) {
    throw new CertificateError(
      `${failure.file} ${failure.message}`,
      'qm certs check lists every problem; qm certs init --force makes a new set',
    )
  }
  return findings.filter((f) => f.level === 'warn')
}

type Add = (level: FindingLevel, file: string, message: string) => void

async function readCertificate(file: string, add: Add): Promise<X509Certificate | undefined> {
  const text = await readText(file, add)
  if (text === undefined) return undefined
  try {
    return new X509Certificate(text)
  } catch (err) {
    add('fail', file, `is not a PEM certificate (${opensslReason(err)})`)
    return undefined
  }
}

async function readKey(file: string, add: Add): Promise<KeyObject | undefined> {
  const text = await readText(file, add)
  if (text === undefined) return undefined
  const mode = (await stat(file)).mode & 0o777
  // Only read access matters: a key others can read is a key others have.
  if ((mode & 0o044) !== 0) {
    add('fail', file, `is readable by ${readers(mode)} (mode ${octal(mode)}); run chmod 600 ${file}`)
  } else {
    add('ok', file, `readable by its owner only (mode ${octal(mode)})`)
  }
  if (text.includes('ENCRYPTED')) {
    add('fail', file, 'is encrypted; services load their key without a passphrase')
    return undefined
  }
  try {
    return createPrivateKey(text)
  } catch (err) {
    add('fail', file, `is not a PEM private key (${opensslReason(err)})`)
    return undefined
  }
}

async function readText(file: string, add: Add): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') add('fail', file, 'is missing')
    else if (code === 'EACCES') add('fail', file, 'cannot be read: permission denied')
    else if (code === 'EISDIR') add('fail', file, 'is a folder, not a file')
    else add('fail', file, `cannot be read: ${(err as Error).message}`)
    return undefined
  }
  if (text.trim() === '') {
    add('fail', file, 'is empty')
    return undefined
  }
  return text
}

function checkKeyMatch(cert: X509Certificate, key: KeyObject, keyFile: string, certName: string, add: Add): void {
  let matches: boolean
  try {
    matches = cert.checkPrivateKey(key)
  } catch {
    // OpenSSL throws rather than answering false when the key types differ (RSA key, EC cert).
    matches = false
  }
  if (matches) add('ok', keyFile, `matches ${certName}`)
  else add('fail', keyFile, `does not match ${certName}`)
}

function checkUsage(cert: X509Certificate, file: string, wanted: string, add: Add): void {
  const name = USAGE_NAMES[wanted]!
  const what = wanted === SERVER_AUTH ? 'server' : 'client'
  // No extendedKeyUsage extension means no restriction (RFC 5280 4.2.1.12); OpenSSL agrees.
  const usages = cert.keyUsage
  if (usages === undefined || usages.includes(wanted) || usages.includes(ANY_USAGE)) {
    add('ok', file, `allows TLS ${what} authentication (${name})`)
    return
  }
  const listed = usages.map((u) => USAGE_NAMES[u] ?? u).join(', ')
  add('fail', file, `does not allow TLS ${what} authentication: extended key usage is ${listed}, not ${name}`)
}

function checkHost(cert: X509Certificate, file: string, host: string, add: Add): void {
  const covered = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined
  if (covered) {
    add('ok', file, `covers host ${host}`)
    return
  }
  const names = cert.subjectAltName ?? `no subject alternative names, subject ${cert.subject}`
  add('fail', file, `does not cover host ${host} (it names ${names}); run qm certs init --force --host ${host}`)
}

function checkDates(cert: X509Certificate, file: string, now: Date, add: Add): void {
  const notBefore = new Date(cert.validFrom)
  const notAfter = new Date(cert.validTo)
  if (now < notBefore) {
    add('fail', file, `is not valid before ${isoSeconds(notBefore)} (is this host's clock right?)`)
  } else if (now > notAfter) {
    add('fail', file, `expired on ${isoSeconds(notAfter)}`)
  } else {
    const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
    const left = `${daysLeft} day${daysLeft === 1 ? '' : 's'}`
    if (daysLeft < EXPIRY_WARNING_DAYS) add('warn', file, `expires in ${left}, on ${isoSeconds(notAfter)}`)
    else add('ok', file, `valid until ${isoSeconds(notAfter)} (${left} left)`)
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw err
  }
}

function readers(mode: number): string {
  const group = (mode & 0o040) !== 0
  const other = (mode & 0o004) !== 0
  return group && other ? 'group and others' : group ? 'its group' : 'others'
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}

function isoSeconds(date: Date): string {
  return utcTimestamp(date.getTime()).replace(/\.\d{3}Z$/, 'Z')
}

// OpenSSL messages read "error:0480006C:PEM routines::no start line"; the tail is the part a person reads.
function opensslReason(err: unknown): string {
  const message = (err as Error).message
  return message.split(':').pop()?.trim() || message
}
