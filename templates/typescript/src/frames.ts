// The frame handling of __SERVICE__, kept apart from gRPC so it can be tested alone: JSON
// frames in (the Quantra standard frame format), frames to send back out. Records are
// processed one by one by processRecord(); what fails becomes an error frame and the
// stream goes on; the stream always ends with one end-of-stream frame.

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
  /** Set on an error frame: what went wrong with a frame or a record. */
  error?: string
}

/**
 * The service's work on one record; returns the content of its answer. Replace the body
 * with this service's processing. A thrown error answers this record with an error frame
 * and the stream goes on with the next one.
 */
export function processRecord(meta: JsonObject, content: JsonObject): JsonObject {
  void meta
  return {received: content}
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function errorFrame(oauth2: JsonObject, message: string, meta?: JsonObject): Frame {
  return {oauth2, data: meta ? [{meta, content: {}}] : [], tod: 'object', error: message, eos: false}
}

export function endOfStreamFrame(oauth2: JsonObject): Frame {
  return {oauth2, data: [], tod: 'object', eos: true}
}

/** One per Call: remembers the client's oauth2 and whether the last frame sent ended the stream. */
export class FrameProcessor {
  private oauth2: JsonObject = {}
  private ended = false

  constructor(private readonly onError: (message: string) => void = () => {}) {}

  /** The answers to one request frame, in order. */
  handle(payload: string): Frame[] {
    const out: Frame[] = []
    this.ended = false
    let frame: unknown
    try {
      frame = JSON.parse(payload)
    } catch (err) {
      return [this.error(`bad frame: ${(err as Error).message}`)]
    }
    if (!isObject(frame)) return [this.error('bad frame: the frame is not a JSON object')]
    this.oauth2 = isObject(frame.oauth2) ? frame.oauth2 : {}
    const tod = frame.tod === 'table' ? 'table' : 'object'
    let records = frame.data ?? []
    if (!Array.isArray(records)) {
      out.push(this.error('bad frame: "data" is not an array'))
      records = []
    }
    for (const [index, record] of (records as unknown[]).entries()) {
      if (!isObject(record)) {
        out.push(this.error(`record ${index} is not an object with meta and content`))
        continue
      }
      const meta = isObject(record.meta) ? record.meta : {}
      const content = isObject(record.content) ? record.content : {}
      try {
        out.push({oauth2: this.oauth2, data: [{meta, content: processRecord(meta, content)}], tod, eos: false})
      } catch (err) {
        out.push(this.error((err as Error).message, meta))
      }
    }
    if (frame.eos === true) {
      out.push(endOfStreamFrame(this.oauth2))
      this.ended = true
    }
    return out
  }

  /** When the client stops sending: the end-of-stream frame, unless the last answer was one. */
  finish(): Frame[] {
    if (this.ended) return []
    this.ended = true
    return [endOfStreamFrame(this.oauth2)]
  }

  private error(message: string, meta?: JsonObject): Frame {
    this.onError(message)
    return errorFrame(this.oauth2, message, meta)
  }
}
