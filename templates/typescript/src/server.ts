// The __SERVICE__ microservice: quantra.MicroService/Call over mutual TLS (client certificates
// required), written after the Quantra microservice guide (sections 12.3-12.13), with
// grpc.health.v1 served too. Takes the six standard arguments; stops cleanly on SIGTERM.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import * as grpc from '@grpc/grpc-js'
import {loadSync} from '@grpc/proto-loader'
import {FrameProcessor, type Frame} from './frames.js'

const SERVICE_NAME = '__SERVICE__'
// MAJOR.MINOR.BUILD: raise BUILD with every change (guide section 12.13).
const SERVICE_VERSION = '1.0.0'
const VERSION_METADATA_KEY = 'x-service-version'
/** How long calls in flight get to finish after SIGTERM before they are cut off. */
const SHUTDOWN_GRACE_MS = 5_000
// dist/server.js sits one level below the folder holding the .proto files.
const PROTO_DIR = fileURLToPath(new URL('../', import.meta.url))

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const
type LogLevel = (typeof LOG_LEVELS)[number]

interface Args {
  port: number
  caCert: string
  serverCert: string
  serverKey: string
  maxWorkers: number
  logLevel: LogLevel
}

function usageError(message: string): never {
  process.stderr.write(
    `usage: ${SERVICE_NAME} --port N --ca-cert PATH --server-cert PATH --server-key PATH [--max-workers N] [--log-level DEBUG|INFO|WARNING|ERROR]\nerror: ${message}\n`,
  )
  process.exit(2)
}

function parseStandardArgs(argv: string[]): Args {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        port: {type: 'string'},
        'ca-cert': {type: 'string'},
        'server-cert': {type: 'string'},
        'server-key': {type: 'string'},
        'max-workers': {type: 'string', default: '10'},
        'log-level': {type: 'string', default: 'INFO'},
      },
      strict: true,
    }).values
  } catch (err) {
    return usageError((err as Error).message)
  }
  for (const name of ['port', 'ca-cert', 'server-cert', 'server-key']) {
    if (values[name] === undefined) usageError(`the argument --${name} is required`)
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) usageError(`--port must be a port number, got ${values.port}`)
  const maxWorkers = Number(values['max-workers'])
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) usageError(`--max-workers must be at least 1, got ${values['max-workers']}`)
  const logLevel = String(values['log-level']).toUpperCase() as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${values['log-level']}`)
  return {port, caCert: values['ca-cert']!, serverCert: values['server-cert']!, serverKey: values['server-key']!, maxWorkers, logLevel}
}

const args = parseStandardArgs(process.argv.slice(2))

function log(level: LogLevel, message: string): void {
  if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(args.logLevel)) return
  process.stderr.write(`${new Date().toISOString()} ${level} ${SERVICE_NAME}: ${message}\n`)
}

function versionMetadata(): grpc.Metadata {
  const metadata = new grpc.Metadata()
  metadata.set(VERSION_METADATA_KEY, SERVICE_VERSION)
  return metadata
}

const loaded = grpc.loadPackageDefinition(
  loadSync(['microservice.proto', 'health.proto'], {includeDirs: [PROTO_DIR], enums: String, defaults: true, keepCase: true}),
) as unknown as {
  quantra: {MicroService: grpc.ServiceClientConstructor}
  grpc: {health: {v1: {Health: grpc.ServiceClientConstructor}}}
}

type CallStream = grpc.ServerDuplexStream<{payload: string}, {payload: string}>

function call(stream: CallStream): void {
  // Before the first frame, so a client reads the version even from an empty stream.
  stream.sendMetadata(versionMetadata())
  const frames = new FrameProcessor((message) => log('WARNING', `error frame: ${message}`))
  const send = (answers: Frame[]) => {
    for (const frame of answers) {
      // A full write buffer pauses the input: HTTP/2 flow control then holds the client back.
      if (!stream.write({payload: JSON.stringify(frame)})) {
        stream.pause()
        stream.once('drain', () => stream.resume())
      }
    }
  }
  stream.on('data', (request: {payload: string}) => {
    log('DEBUG', `frame received (${request.payload.length} bytes)`)
    send(frames.handle(request.payload))
  })
  stream.on('end', () => {
    send(frames.finish())
    stream.end()
  })
  stream.on('error', (err) => {
    // The client cancelled or the connection dropped: nobody is left to answer.
    log('DEBUG', `call ended early: ${err.message}`)
  })
}

// grpc.health.v1: SERVING for the server ('') and quantra.MicroService until shutdown begins.
const HEALTH_SERVICES = new Set(['', 'quantra.MicroService'])
let serving = true
const watchers = new Set<grpc.ServerWritableStream<{service: string}, {status: string}>>()
const healthStatus = (service: string) => (!HEALTH_SERVICES.has(service) ? 'SERVICE_UNKNOWN' : serving ? 'SERVING' : 'NOT_SERVING')

const health: grpc.UntypedServiceImplementation = {
  Check(unary: grpc.ServerUnaryCall<{service: string}, {status: string}>, callback: grpc.sendUnaryData<{status: string}>) {
    unary.sendMetadata(versionMetadata())
    if (!HEALTH_SERVICES.has(unary.request.service)) {
      callback({code: grpc.status.NOT_FOUND, details: `unknown service ${unary.request.service}`})
      return
    }
    callback(null, {status: healthStatus(unary.request.service)})
  },
  Watch(watch: grpc.ServerWritableStream<{service: string}, {status: string}>) {
    watch.sendMetadata(versionMetadata())
    watch.write({status: healthStatus(watch.request.service)})
    watchers.add(watch)
    watch.on('cancelled', () => watchers.delete(watch))
  },
}

// grpc-js serves calls on Node's one event loop, so there is no thread pool to size:
// --max-workers bounds the calls in flight per connection (HTTP/2 MAX_CONCURRENT_STREAMS).
const server = new grpc.Server({'grpc.max_concurrent_streams': args.maxWorkers})
server.addService(loaded.quantra.MicroService.service, {Call: call})
server.addService(loaded.grpc.health.v1.Health.service, health)

const credentials = grpc.ServerCredentials.createSsl(
  readFileSync(args.caCert),
  [{private_key: readFileSync(args.serverKey), cert_chain: readFileSync(args.serverCert)}],
  true,
)

// Every address of the host, both IPv6 and IPv4 as the guide's "[::]:port"; 0.0.0.0 where there is no IPv6.
function bind(addresses: string[]): void {
  const [address, ...rest] = addresses
  server.bindAsync(`${address}:${args.port}`, credentials, (err, port) => {
    if (err) {
      if (rest.length > 0) return bind(rest)
      log('ERROR', `cannot listen on port ${args.port}: ${err.message}`)
      process.exit(1)
    }
    log('INFO', `${SERVICE_NAME} ${SERVICE_VERSION} listening on port ${port} with mTLS`)
  })
}
bind(['[::]', '0.0.0.0'])

let stopping = false
function stop(signal: NodeJS.Signals): void {
  if (stopping) return
  stopping = true
  log('INFO', `${signal} received, stopping`)
  serving = false
  for (const watch of watchers) {
    watch.write({status: 'NOT_SERVING'})
    watch.end()
  }
  setTimeout(() => {
    log('WARNING', `calls still open after ${SHUTDOWN_GRACE_MS} ms, cutting them off`)
    server.forceShutdown()
    process.exit(0)
  }, SHUTDOWN_GRACE_MS).unref()
  server.tryShutdown(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
