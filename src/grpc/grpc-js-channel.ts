// What `qm call` needs of grpc-js to open its channel: credentials from the client pair and
// the options of a channel of one owner. The probes do not use grpc-js (h2-channel.ts).
import * as grpc from '@grpc/grpc-js'
import {usable, type ClientCertPaths, type ClientPem} from './client-credentials.js'
import type {MetadataLookup} from './version-metadata.js'

export function clientCredentials(pem: ClientPem, certs: ClientCertPaths): grpc.ChannelCredentials {
  return usable(certs, () => grpc.credentials.createSsl(pem.ca, pem.key, pem.cert))
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
    // call counters for every channel, subchannel and socket, for nobody.
    'grpc.enable_channelz': 0,
  }
}

export function metadataLookup(metadata: grpc.Metadata | undefined): MetadataLookup | undefined {
  return metadata ? (key) => metadata.get(key)[0]?.toString() : undefined
}
