// qm's side of mutual TLS: the manifest's client pair and CA read from disk and turned into
// grpc-js channel credentials, with errors that name the file and say what to do. Shared
// by every command that opens a channel to a service.
import {readFile} from 'node:fs/promises'
import {isAbsolute, relative} from 'node:path'
import * as grpc from '@grpc/grpc-js'
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

export function clientCredentials(pem: ClientPem, certs: ClientCertPaths): grpc.ChannelCredentials {
  try {
    return grpc.credentials.createSsl(pem.ca, pem.key, pem.cert)
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

/**
 * Options for a channel of one owner: its own subchannel pool, so closing it closes its
 * connection, and the TLS name checked against the service certificate (the channel is
 * given an IP literal, so the name cannot come from the address).
 */
export function channelOptions(serverName: string): grpc.ChannelOptions {
  return {
    'grpc.ssl_target_name_override': serverName,
    'grpc.default_authority': serverName,
    'grpc.use_local_subchannel_pool': 1,
    'grpc.service_config_disable_resolution': 1,
    // channelz (grpc's own introspection service, which qm never serves) keeps a trace and
    // call counters for every channel, subchannel and socket: memory and work for each of
    // the daemon's kept channels, for nobody.
    'grpc.enable_channelz': 0,
  }
}

function displayPath(path: string): string {
  if (!isAbsolute(path)) return path
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}
