// qm's side of mutual TLS: the manifest's client pair and CA read from disk and turned into
// a TLS context (the probes' channels) or grpc-js channel credentials (`qm call`,
// grpc-js-channel.ts), with errors that name the file and say what to do. Shared by every
// command that opens a channel to a service.
import {readFile} from 'node:fs/promises'
import {isAbsolute, relative} from 'node:path'
import {createSecureContext, type SecureContext} from 'node:tls'
import {QmError} from '../errors.js'
import type {CertPaths} from '../manifest/types.js'

export type ClientCertPaths = Pick<CertPaths, 'ca' | 'clientCert' | 'clientKey'>

export interface ClientPem {
  ca: Buffer
  cert: Buffer
  key: Buffer
}

export async function readClientPem(certs: ClientCertPaths): Promise<ClientPem> {
  const [ca, key, cert] = await Promise.all(
    [certs.ca, certs.clientKey, certs.clientCert].map(async (path) => {
      try {
        return await readFile(path)
      } catch (err) {
        throw new QmError(
          `cannot read ${displayPath(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          1,
          'CERTS_UNREADABLE',
          'qm connects with ca.crt, client.crt and client.key; make a set with `qm certs init` or point --certs at one',
          {cause: err},
        )
      }
    }),
  )
  return {ca: ca!, key: key!, cert: cert!}
}

export function clientSecureContext(pem: ClientPem, certs: ClientCertPaths): SecureContext {
  return usable(certs, () => createSecureContext({ca: pem.ca, key: pem.key, cert: pem.cert}))
}

/** Makes something of the certificate set, or says which files it could not use. */
export function usable<T>(certs: ClientCertPaths, make: () => T): T {
  try {
    return make()
  } catch (err) {
    throw new QmError(
      `cannot use the client certificate set (${displayPath(certs.ca)}, ${displayPath(certs.clientCert)}, ${displayPath(certs.clientKey)}): ${(err as Error).message}`,
      1,
      'CERTS_INVALID',
      '`qm certs check` says what is wrong with them',
      {cause: err},
    )
  }
}

function displayPath(path: string): string {
  if (!isAbsolute(path)) return path
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}
