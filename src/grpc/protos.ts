// The three messages qm exchanges with a service (proto/health.proto and
// proto/microservice.proto), each one field, in protobuf's wire format, read and written
// here. Two generic runtimes were tried and measured in the daemon, which keeps this codec
// for its whole life: @grpc/proto-loader's .proto parser and reflection (about 2 MiB of its
// resident memory with 40 services), then protobufjs's minimal Reader and Writer with
// the long.js it pulls in (about 1.4 MiB more than this file). One string field and one
// varint need neither. test/grpc/protos.test.ts holds this codec to what proto-loader
// makes of the .proto files, malformed input included.

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'
export const CALL_PATH = '/quantra.MicroService/Call'

export interface Frame {
  payload: string
}

export interface HealthCheckRequest {
  service: string
}

export interface HealthCheckResponse {
  /** The enum as its name (proto-loader's `enums: String`); a value the proto does not name, as its number. */
  status: string
}

/** How to write a method's request and read its response (the probes' channel and grpc-js alike). */
export interface MethodCodec<Request, Response> {
  requestSerialize: (value: Request) => Buffer
  responseDeserialize: (bytes: Buffer) => Response
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']

/** Field 1, length-delimited: the only field of HealthCheckRequest and of Frame. */
const STRING_FIELD_1 = (1 << 3) | 2
/** Field 1, varint: HealthCheckResponse.status. */
const VARINT_FIELD_1 = 1 << 3

export const healthCheckMethod: MethodCodec<HealthCheckRequest, HealthCheckResponse> = {
  requestSerialize: ({service}) => writeString(service),
  responseDeserialize: (bytes) => {
    const value = readField1(bytes, VARINT_FIELD_1, (reader) => reader.int32())
    return {status: value === undefined ? 'UNKNOWN' : (SERVING_STATUS[value] ?? String(value))}
  },
}

export const callMethod: MethodCodec<Frame, Frame> = {
  requestSerialize: ({payload}) => writeString(payload),
  responseDeserialize: (bytes) => ({payload: readField1(bytes, STRING_FIELD_1, (reader) => reader.string()) ?? ''}),
}

/** Written even when empty, as proto-loader writes a field that is set: the bytes on the wire stay what they were. */
function writeString(value: string): Buffer {
  const length = Buffer.byteLength(value)
  const prefix = varint(length)
  const bytes = Buffer.allocUnsafe(1 + prefix.length + length)
  bytes[0] = STRING_FIELD_1
  bytes.set(prefix, 1)
  bytes.write(value, 1 + prefix.length, 'utf8')
  return bytes
}

function varint(value: number): number[] {
  const out: number[] = []
  for (; value > 0x7f; value >>>= 7) out.push((value & 0x7f) | 0x80)
  out.push(value)
  return out
}

/** Field 1 when it has the expected wire type (the last one wins, as protobuf says); every other field is skipped. */
function readField1<T>(bytes: Buffer, tag: number, read: (reader: WireReader) => T): T | undefined {
  const reader = new WireReader(bytes)
  let value: T | undefined
  while (reader.pos < bytes.length) {
    const fieldTag = reader.uint32()
    if (fieldTag === tag) value = read(reader)
    else reader.skipType(fieldTag & 7)
  }
  return value
}

/** Groups nested deeper than this are refused, as protobufjs refuses them. */
const MAX_GROUP_DEPTH = 100

/** protobuf's wire format as protobufjs reads it, with its errors for input cut short. */
class WireReader {
  pos = 0

  constructor(private readonly bytes: Buffer) {}

  /** A varint's low 32 bits; a varint runs to at most 10 bytes. */
  uint32(): number {
    let value = 0
    for (let index = 0; index < 10; index++) {
      const byte = this.byte()
      if (index < 5) value = (value | ((byte & 0x7f) << (7 * index))) >>> 0
      if (byte < 0x80) return value
    }
    throw new RangeError(`index out of range: ${this.pos} + 10 > ${this.bytes.length}`)
  }

  int32(): number {
    return this.uint32() | 0
  }

  /** A length-delimited string; one cut short is read as far as it goes, as protobufjs reads it from a Buffer. */
  string(): string {
    const length = this.uint32()
    const start = this.pos
    this.pos = Math.min(start + length, this.bytes.length)
    return this.bytes.toString('utf8', start, this.pos)
  }

  skipType(wireType: number, depth = 0): void {
    if (depth > MAX_GROUP_DEPTH) throw new Error('maximum nesting depth exceeded')
    switch (wireType) {
      case 0:
        while (this.byte() >= 0x80);
        return
      case 1:
        return this.skip(8)
      case 2:
        return this.skip(this.uint32())
      case 3:
        for (let nested = this.uint32() & 7; nested !== 4; nested = this.uint32() & 7) this.skipType(nested, depth + 1)
        return
      case 5:
        return this.skip(4)
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`)
    }
  }

  private skip(length: number): void {
    if (this.pos + length > this.bytes.length) throw new RangeError(`index out of range: ${this.pos} + ${length} > ${this.bytes.length}`)
    this.pos += length
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new RangeError(`index out of range: ${this.pos} + 1 > ${this.bytes.length}`)
    return this.bytes[this.pos++]!
  }
}
