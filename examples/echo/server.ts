// The echo example: quantra.MicroService/Call answers each record with a frame carrying
// the same meta and content, then the end-of-stream frame; grpc.health.v1 is served too,
// so qm's health probe takes its first path here. Started by the root services.yaml.
import {
  HealthService,
  Logger,
  dataFrame,
  errorFrame,
  grpc,
  isObject,
  loadServiceDefinitions,
  parseStandardArgs,
  runCall,
  serve,
  serverOptions,
  type FrameHandler,
} from '../libs/standard-server.js'

const SERVICE_NAME = 'echo'
const SERVICE_VERSION = '1.0.0'

const echoRecords: FrameHandler = {
  onFrame(frame, emit) {
    for (const [index, record] of frame.data.entries()) {
      if (!isObject(record)) {
        emit(errorFrame(frame.oauth2, `record ${index} is not an object with meta and content`))
        continue
      }
      const meta = isObject(record.meta) ? record.meta : {}
      const content = isObject(record.content) ? record.content : {}
      emit(dataFrame(frame.oauth2, [{meta, content}], frame.tod))
    }
  },
}

const args = parseStandardArgs('Echo microservice')
const logger = new Logger(SERVICE_NAME, args.logLevel)
const definitions = loadServiceDefinitions()
const health = new HealthService(SERVICE_VERSION)
const server = new grpc.Server(serverOptions(args))
server.addService(definitions.microService, {
  Call: (call: grpc.ServerDuplexStream<{payload: string}, {payload: string}>) => runCall(call, SERVICE_VERSION, logger, echoRecords),
})
server.addService(definitions.health, health.implementation())
serve(server, args, {name: SERVICE_NAME, version: SERVICE_VERSION, logger, health})
