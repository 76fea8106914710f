// What the TypeScript examples share, as the guide's /ms/libs is shared by its services
// (section 12.11): the six standard arguments, mTLS with client certificates required,
// the version in the response metadata, the frame format, and a clean stop on SIGTERM.
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import * as grpc from '@grpc/grpc-js'
import {loadSync} from '@grpc/proto-loader'

export {grpc}

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface StandardArgs {
  port: number
  caCert: string
  serverCert: string
  serverKey: string
  maxWorkers: number
  logLevel: LogLevel
}

/** Parses the guide's section 12.5 arguments; a bad command line prints usage and exits 2, as argparse does. */
export function parseStandardArgs(description: string, argv: string[] = process.argv.slice(2)): StandardArgs {
  const usage = `usage: ${description}: --port N --ca-cert PATH --server-cert PATH --server-key PATH [--max-workers N] [--log-level DEBUG|INFO|WARNING|ERROR]`
  const fail = (message: string): never => {
    process.stderr.write(`${usage}\nerror: ${message}\n`)
    process.exit(2)
  }
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
      allowPositionals: false,
    }).values
  } catch (err) {
    return fail((err as Error).message)
  }
  for (const name of ['port', 'ca-cert', 'server-cert', 'server-key']) {
    if (values[name] === undefined) fail(`the argument --${name} is required`)
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port must be a port number, got ${values.port}`)
  const maxWorkers = Number(values['max-workers'])
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) fail(`--max-workers must be a whole number of at least 1, got ${values['max-workers']}`)
  const logLevel = String(values['log-level']).toUpperCase()
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${values['log-level']}`)
  return {
    port,
    caCert: values['ca-cert']!,
    serverCert: values['server-cert']!,
    serverKey: values['server-key']!,
    maxWorkers,
    logLevel: logLevel as LogLevel,
  }
}

/** One line per event on stderr, as Python's logging writes them, filtered by --log-level. */
export class Logger {
  private readonly threshold: number

  constructor(
    private readonly name: string,
    level: LogLevel,
  ) {
    this.threshold = LOG_LEVELS.indexOf(level)
  }

  debug(message: string): void {
    this.write('DEBUG', message)
  }

  info(message: string): void {
    this.write('INFO', message)
  }

  warning(message: string): void {
    this.write('WARNING', message)
  }

  error(message: string): void {
    this.write('ERROR', message)
  }

  private write(level: LogLevel, message: string): void {
    if (LOG_LEVELS.indexOf(level) < this.threshold) return
    process.stderr.write(`${new Date().toISOString()} ${level} ${this.name}: ${message}\n`)
  }
}

/**
 * The repository's proto/ folder, found by walking up from this file: the examples run
 * from source (examples/libs, two levels down) and compiled (dist/examples/libs, three).
 */
export function findProtoDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto', 'microservice.proto'))) return join(dir, 'proto')
    if (dirname(dir) === dir) throw new Error(`no proto/microservice.proto in ${from} or any folder above it`)
  }
}

export interface ServiceDefinitions {
  microService: grpc.ServiceDefinition
  health: grpc.ServiceDefinition
}

export function loadServiceDefinitions(protoDir: string = findProtoDir()): ServiceDefinitions {
  const definition = loadSync(['microservice.proto', 'health.proto'], {
    includeDirs: [protoDir],
    enums: String,
    defaults: true,
    keepCase: true,
  })
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    quantra: {MicroService: grpc.ServiceClientConstructor}
    grpc: {health: {v1: {Health: grpc.ServiceClientConstructor}}}
  }
  return {microService: loaded.quantra.MicroService.service, health: loaded.grpc.health.v1.Health.service}
}

/** The guide's create_server_credentials: the server pair, and client certificates required and checked against the CA. */
export function serverCredentials(args: StandardArgs): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    readFileSync(args.caCert),
    [{private_key: readFileSync(args.serverKey), cert_chain: readFileSync(args.serverCert)}],
    true,
  )
}

export function versionMetadata(version: string): grpc.Metadata {
  const metadata = new grpc.Metadata()
  metadata.set('x-service-version', version)
  return metadata
}

// --- The standard frame format (section 12.7) ---

export type JsonObject = {[key: string]: unknown}

export interface DataRecord {
  meta: JsonObject
  content: JsonObject
}

export interface Frame {
  oauth2: JsonObject
  data: DataRecord[]
  tod: 'object' | 'table'
  eos: boolean
  error?: string
}

/** What a client sent, as far as it could be read; `oauth2` and `tod` default as the guide's .get() calls do. */
export interface IncomingFrame {
  oauth2: JsonObject
  data: unknown[]
  tod: 'object' | 'table'
  eos: boolean
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads a request payload; throws with a sentence for the error frame when it is not a frame. */
export function readFrame(payload: string): IncomingFrame {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch (err) {
    throw new Error(`the frame is not JSON: ${(err as Error).message}`)
  }
  if (!isObject(parsed)) throw new Error('the frame is not a JSON object')
  const data = parsed.data ?? []
  if (!Array.isArray(data)) throw new Error('the frame\'s "data" is not an array')
  const oauth2 = parsed.oauth2 ?? {}
  if (!isObject(oauth2)) throw new Error('the frame\'s "oauth2" is not an object')
  return {oauth2, data, tod: parsed.tod === 'table' ? 'table' : 'object', eos: parsed.eos === true}
}

export function dataFrame(oauth2: JsonObject, records: DataRecord[], tod: Frame['tod'] = 'object'): Frame {
  return {oauth2, data: records, tod, eos: false}
}

/** An error for one frame or record; the stream goes on (section 12.8), so it does not end it. */
export function errorFrame(oauth2: JsonObject, message: string, meta?: JsonObject): Frame {
  return {oauth2, data: meta ? [{meta, content: {}}] : [], tod: 'object', error: message, eos: false}
}

export function endOfStreamFrame(oauth2: JsonObject): Frame {
  return {oauth2, data: [], tod: 'object', eos: true}
}

export interface FrameHandler {
  /** Called for each frame the client sends, in order; `emit` queues a response frame. */
  onFrame(frame: IncomingFrame, emit: (frame: Frame) => void): void
  /** Called once the client's frame with eos: true arrived, before the end-of-stream frame. */
  onEndOfStream?(oauth2: JsonObject, emit: (frame: Frame) => void): void
}

type CallStream = grpc.ServerDuplexStream<{payload: string}, {payload: string}>

/**
 * Drives one Call: the version in the response headers before any frame, an error frame
 * for a frame that cannot be read or handled, the end-of-stream frame after the client's,
 * and one when the client half-closes without having sent it, so the stream always ends
 * with eos: true. Input is paused while grpc-js's write buffer is full, so a slow reader
 * holds back a fast writer through HTTP/2 flow control instead of filling memory.
 */
export function runCall(call: CallStream, version: string, logger: Logger, handler: FrameHandler): void {
  call.sendMetadata(versionMetadata(version))
  let lastOauth2: JsonObject = {}
  let endedWithEos = false
  const emit = (frame: Frame) => {
    endedWithEos = frame.eos
    if (frame.error !== undefined) logger.warning(`error frame: ${frame.error}`)
    if (!call.write({payload: JSON.stringify(frame)})) {
      call.pause()
      call.once('drain', () => call.resume())
    }
  }
  call.on('data', (request: {payload: string}) => {
    logger.debug(`frame received (${request.payload.length} bytes)`)
    let frame: IncomingFrame
    try {
      frame = readFrame(request.payload)
    } catch (err) {
      emit(errorFrame(lastOauth2, (err as Error).message))
      return
    }
    lastOauth2 = frame.oauth2
    try {
      handler.onFrame(frame, emit)
      if (frame.eos) {
        handler.onEndOfStream?.(frame.oauth2, emit)
        emit(endOfStreamFrame(frame.oauth2))
      }
    } catch (err) {
      logger.error(`cannot process a frame: ${(err as Error).stack ?? String(err)}`)
      emit(errorFrame(frame.oauth2, `cannot process the frame: ${(err as Error).message}`))
    }
  })
  call.on('end', () => {
    if (!endedWithEos) {
      handler.onEndOfStream?.(lastOauth2, emit)
      emit(endOfStreamFrame(lastOauth2))
    }
    call.end()
  })
  call.on('error', (err) => {
    // The client cancelled or the connection dropped: nobody is left to answer.
    logger.debug(`call ended early: ${err.message}`)
  })
}

// --- grpc.health.v1 ---

type HealthStatus = 'SERVING' | 'NOT_SERVING'

/** The standard health service, SERVING for the server ('') and for quantra.MicroService until shutdown begins. */
export class HealthService {
  private status: HealthStatus = 'SERVING'
  private readonly watchers = new Set<grpc.ServerWritableStream<{service: string}, {status: string}>>()

  constructor(private readonly version: string) {}

  static readonly SERVICES = new Set(['', 'quantra.MicroService'])

  implementation(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{service: string}, {status: string}>, callback: grpc.sendUnaryData<{status: string}>) => {
        call.sendMetadata(versionMetadata(this.version))
        if (!HealthService.SERVICES.has(call.request.service)) {
          callback({code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}`})
          return
        }
        callback(null, {status: this.status})
      },
      Watch: (call: grpc.ServerWritableStream<{service: string}, {status: string}>) => {
        call.sendMetadata(versionMetadata(this.version))
        if (!HealthService.SERVICES.has(call.request.service)) {
          call.write({status: 'SERVICE_UNKNOWN'})
          call.end()
          return
        }
        call.write({status: this.status})
        this.watchers.add(call)
        call.on('cancelled', () => this.watchers.delete(call))
      },
    }
  }

  /** NOT_SERVING from now on; open Watch streams hear it and end, so they do not hold up the shutdown. */
  stopServing(): void {
    this.status = 'NOT_SERVING'
    for (const call of this.watchers) {
      call.write({status: this.status})
      call.end()
    }
    this.watchers.clear()
  }
}

// --- Serving ---

/** How long calls in flight get to finish after SIGTERM before they are cut off. */
const SHUTDOWN_GRACE_MS = 5_000

export interface ServeOptions {
  name: string
  version: string
  logger: Logger
  health?: HealthService
}

/**
 * Binds every address of the host (dual stack, as the guide's "[::]:port"; 0.0.0.0 where
 * the host has no IPv6), logs one line once listening, and stops cleanly on SIGTERM or
 * SIGINT: no new calls, calls in flight finish within SHUTDOWN_GRACE_MS, exit 0.
 */
export function serve(server: grpc.Server, args: StandardArgs, options: ServeOptions): void {
  const {logger} = options
  const credentials = serverCredentials(args)
  const bind = (addresses: string[]): void => {
    const [address, ...rest] = addresses
    server.bindAsync(`${address}:${args.port}`, credentials, (err, port) => {
      if (err) {
        if (rest.length > 0) {
          logger.debug(`cannot bind ${address}:${args.port} (${err.message}); trying ${rest[0]}`)
          bind(rest)
          return
        }
        logger.error(`cannot listen on port ${args.port}: ${err.message}`)
        process.exit(1)
      }
      logger.info(`${options.name} ${options.version} listening on port ${port} with mTLS`)
    })
  }
  bind(['[::]', '0.0.0.0'])

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    logger.info(`${signal} received, stopping`)
    options.health?.stopServing()
    const force = setTimeout(() => {
      logger.warning(`calls still open after ${SHUTDOWN_GRACE_MS} ms, cutting them off`)
      server.forceShutdown()
      process.exit(0)
    }, SHUTDOWN_GRACE_MS)
    force.unref()
    server.tryShutdown((err) => {
      if (err) logger.warning(`shutdown: ${err.message}`)
      process.exit(0)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/**
 * grpc-js serves every call on Node's one event loop, so there is no thread pool to size;
 * --max-workers bounds the calls in flight on one connection instead (HTTP/2's
 * MAX_CONCURRENT_STREAMS), which, like the guide's ThreadPoolExecutor, makes extra calls wait.
 */
export function serverOptions(args: StandardArgs): grpc.ServerOptions {
  return {'grpc.max_concurrent_streams': args.maxWorkers}
}
