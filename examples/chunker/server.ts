// The chunker example: the guide's streaming pattern (section 12.8). A document arrives in
// chunks spread over frames; each accepted chunk is answered with a progress frame, the
// reassembled document with a result frame (its counts), and a bad frame or a missing
// chunk with an error frame while the stream goes on. Call only, no health service, so
// qm's probe has to fall back to an end-of-stream Call.
import {
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
  type JsonObject,
} from '../libs/standard-server.js'

const SERVICE_NAME = 'chunker'
const SERVICE_VERSION = '1.0.0'

/** Chunks of one document seen so far; documents are told apart by meta.filename. */
interface PartialDocument {
  chunkCount: number
  chunks: Map<number, string>
}

function documentName(meta: JsonObject): string {
  return typeof meta.filename === 'string' ? meta.filename : 'document'
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min
}

/** What the result frame reports about a reassembled document. */
function describeDocument(text: string): {characters: number; words: number; lines: number} {
  const words = text.split(/\s+/).filter((word) => word !== '').length
  const lines = text === '' ? 0 : text.split(/\r?\n/).length
  return {characters: [...text].length, words, lines}
}

/** One handler per Call: documents in progress belong to the stream that sends them. */
function chunkerFor(logger: Logger): FrameHandler {
  const documents = new Map<string, PartialDocument>()
  return {
    onFrame(frame, emit) {
      for (const [index, record] of frame.data.entries()) {
        if (!isObject(record) || !isObject(record.meta) || !isObject(record.content)) {
          emit(errorFrame(frame.oauth2, `record ${index} is not an object with meta and content`))
          continue
        }
        const {meta, content} = record
        const filename = documentName(meta)
        const {chunk_index: chunkIndex, chunk_count: chunkCount} = meta
        const refuse = (reason: string) => emit(errorFrame(frame.oauth2, `${filename}: ${reason}`, {filename, chunk_index: chunkIndex ?? null}))
        if (typeof content.chunk !== 'string') {
          refuse('content.chunk must be the chunk\'s text')
          continue
        }
        if (!isCount(chunkCount, 1)) {
          refuse(`meta.chunk_count must be a whole number of at least 1, got ${JSON.stringify(chunkCount ?? null)}`)
          continue
        }
        if (!isCount(chunkIndex, 0) || chunkIndex >= chunkCount) {
          refuse(`meta.chunk_index must be a whole number from 0 to ${chunkCount - 1}, got ${JSON.stringify(chunkIndex ?? null)}`)
          continue
        }
        let document = documents.get(filename)
        if (!document) {
          document = {chunkCount, chunks: new Map()}
          documents.set(filename, document)
        }
        if (document.chunkCount !== chunkCount) {
          refuse(`meta.chunk_count is ${chunkCount}, but earlier chunks said ${document.chunkCount}`)
          continue
        }
        if (document.chunks.has(chunkIndex)) {
          refuse(`chunk ${chunkIndex} arrived twice; the first one is kept`)
          continue
        }
        document.chunks.set(chunkIndex, content.chunk)
        const processed = document.chunks.size
        logger.debug(`${filename}: chunk ${chunkIndex} (${processed} of ${chunkCount})`)
        emit(
          dataFrame(frame.oauth2, [
            {
              meta: {filename, progress: Math.round((processed / chunkCount) * 100), chunks_processed: processed, chunk_count: chunkCount},
              content: {},
            },
          ]),
        )
        if (processed === chunkCount) {
          documents.delete(filename)
          const text = Array.from({length: chunkCount}, (_, i) => document.chunks.get(i)!).join('')
          emit(dataFrame(frame.oauth2, [{meta: {filename, chunk_count: chunkCount}, content: describeDocument(text)}]))
        }
      }
    },
    onEndOfStream(oauth2, emit) {
      for (const [filename, document] of documents) {
        const missing = Array.from({length: document.chunkCount}, (_, i) => i).filter((i) => !document.chunks.has(i))
        emit(
          errorFrame(oauth2, `${filename}: missing chunk ${missing.join(', ')} of ${document.chunkCount}; the document was not processed`, {
            filename,
            missing_chunks: missing,
          }),
        )
      }
      documents.clear()
    },
  }
}

const args = parseStandardArgs('Chunker microservice')
const logger = new Logger(SERVICE_NAME, args.logLevel)
const definitions = loadServiceDefinitions()
const server = new grpc.Server(serverOptions(args))
server.addService(definitions.microService, {
  Call: (call: grpc.ServerDuplexStream<{payload: string}, {payload: string}>) => runCall(call, SERVICE_VERSION, logger, chunkerFor(logger)),
})
serve(server, args, {name: SERVICE_NAME, version: SERVICE_VERSION, logger})
