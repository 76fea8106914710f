// Makes the mutual-TLS set qm and its services use: a private CA, a server pair and a
// client pair signed by it, ECDSA P-256, keys as PEM PKCS#8 so that both grpc-js
// (OpenSSL) and Python grpcio (BoringSSL) load them unchanged.
import {randomBytes, webcrypto} from 'node:crypto'
import {chmod, mkdir, rename, rm, stat, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {hostname} from 'node:os'
import {join} from 'node:path'
// Before @peculiar/x509: the tsyringe it registers algorithms through needs Reflect metadata.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import {QmError, UsageError} from '../errors.js'

export interface IssuedPair {
  certPem: string
  keyPem: string
}

/** Defaults: from an hour ago (a host whose clock runs behind still accepts it) to `days` ahead. */
export interface Validity {
  notBefore?: Date
  notAfter?: Date
}

export interface CertificateSet {
  ca: IssuedPair
  server: IssuedPair
  client: IssuedPair
}

export const DEFAULT_DAYS = 365
export const CERT_FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'] as const

type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair

const crypto = webcrypto
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = {name: 'ECDSA', namedCurve: 'P-256'}
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = {name: 'ECDSA', hash: 'SHA-256'}
// Underscores are not DNS but appear in container and compose names; a leading "*." is a wildcard.
const HOST_NAME = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

export async function createCa(opts: {commonName?: string} & Validity = {}): Promise<IssuedPair> {
  const keys = await generateKeys()
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: distinguishedName(opts.commonName ?? 'qm development CA'),
      ...validity(opts),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        // pathLength 0: this CA signs leaf certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return {certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey)}
}

export async function issueCertificate(
  ca: IssuedPair,
  opts: {commonName: string; usage: 'server' | 'client'; sans?: string[]} & Validity,
): Promise<IssuedPair> {
  const caCert = new x509.X509Certificate(ca.certPem)
  const caKey = await importKeyPem(ca.keyPem)
  const keys = await generateKeys()
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // ECDSA keys sign the handshake; keyEncipherment is an RSA-only usage.
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  ]
  const sans = uniqueNames(opts.sans ?? [])
  if (sans.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        sans.map((name): x509.JsonGeneralName => ({type: isIP(name) ? 'ip' : 'dns', value: name})),
        false,
      ),
    )
  }
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: distinguishedName(opts.commonName),
      issuer: caCert.subjectName,
      ...validity(opts),
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions,
    },
    crypto,
  )
  return {certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey)}
}

/** The names every server certificate carries, then the caller's extra hosts. */
export function serverNames(hosts: string[] = []): string[] {
  return uniqueNames(['localhost', '127.0.0.1', '::1', hostname(), ...hosts])
}

export async function createCertificateSet(opts: {hosts?: string[]; days?: number} = {}): Promise<CertificateSet> {
  const days = opts.days ?? DEFAULT_DAYS
  if (!Number.isInteger(days) || days < 1) {
    throw new UsageError(`certificate validity must be a whole number of days of at least 1, got ${days}`)
  }
  for (const host of opts.hosts ?? []) {
    if (!isIP(host) && !HOST_NAME.test(host)) {
      throw new UsageError(`"${host}" is neither an IP address nor a host name`, 'e.g. --host db.example.internal --host 10.0.0.5')
    }
  }
  const now = Date.now()
  const span: Validity = {notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + days * DAY_MS)}
  const ca = await createCa(span)
  const [server, client] = await Promise.all([
    issueCertificate(ca, {commonName: 'localhost', usage: 'server', sans: serverNames(opts.hosts), ...span}),
    issueCertificate(ca, {commonName: 'qm-client', usage: 'client', ...span}),
  ])
  return {ca, server, client}
}

export interface CertInitResult {
  dir: string
  files: string[]
  serverNames: string[]
  notAfter: string
}

/** `qm certs init`: a new set written to dir. */
export async function initCertificates(opts: {
  dir: string
  days?: number
  hosts?: string[]
  force?: boolean
}): Promise<CertInitResult> {
  const hosts = opts.hosts ?? []
  const set = await createCertificateSet({hosts, ...(opts.days === undefined ? {} : {days: opts.days})})
  const files = await writeCertificateSet(opts.dir, set, {force: opts.force ?? false})
  return {
    dir: opts.dir,
    files,
    serverNames: serverNames(hosts),
    notAfter: new x509.X509Certificate(set.server.certPem).notAfter.toISOString(),
  }
}

export async function writeCertificateSet(
  dir: string,
  set: CertificateSet,
  opts: {force?: boolean} = {},
): Promise<string[]> {
  const contents: Record<(typeof CERT_FILES)[number], string> = {
    'ca.crt': set.ca.certPem,
    'ca.key': set.ca.keyPem,
    'server.crt': set.server.certPem,
    'server.key': set.server.keyPem,
    'client.crt': set.client.certPem,
    'client.key': set.client.keyPem,
  }
  const paths = CERT_FILES.map((name) => join(dir, name))
  if (!opts.force) {
    const existing = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : undefined)))).filter(
      (p): p is string => p !== undefined,
    )
    if (existing.length > 0) {
      throw new QmError(
        `certificate files already exist: ${existing.join(', ')}`,
        1,
        'CERTS_EXIST',
        'pass --force to replace the whole set (services using the old CA will need restarting)',
      )
    }
  }
  try {
    await mkdir(dir, {recursive: true})
  } catch (err) {
    throw new QmError(`cannot create folder ${dir}: ${(err as Error).message}`, 1, 'CERTS_WRITE', undefined, {cause: err})
  }
  for (const name of CERT_FILES) {
    await writeAtomically(join(dir, name), contents[name], name.endsWith('.key') ? 0o600 : 0o644)
  }
  return paths
}

// A fresh file renamed into place: overwriting a key in place would keep a looser mode
// the old file had, and a reader would never see half a PEM.
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temp, text, {mode, flag: 'wx'})
    // The umask may have cleared bits of the certificate mode; a key's 0600 it cannot widen.
    await chmod(temp, mode)
    await rename(temp, path)
  } catch (err) {
    await rm(temp, {force: true})
    throw new QmError(`cannot write ${path}: ${(err as Error).message}`, 1, 'CERTS_WRITE', undefined, {cause: err})
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw err
  }
}

function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(der, 'PRIVATE KEY')
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), KEY_ALGORITHM, false, ['sign'])
}

// Positive, 16 random bytes: RFC 5280 wants serials unique per CA and at most 20 octets.
function serialNumber(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x7f) | 0x01
  return bytes.toString('hex')
}

function distinguishedName(commonName: string): x509.JsonName {
  return [{CN: [commonName]}]
}

function validity(v: Validity): {notBefore: Date; notAfter: Date} {
  const now = Date.now()
  return {notBefore: v.notBefore ?? new Date(now - HOUR_MS), notAfter: v.notAfter ?? new Date(now + DEFAULT_DAYS * DAY_MS)}
}

function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const raw of names) {
    const name = raw.trim()
    const key = name.toLowerCase()
    if (name === '' || seen.has(key)) continue
    seen.add(key)
    out.push(name)
  }
  return out
}
