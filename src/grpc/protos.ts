// The three messages qm exchanges with a service (proto/health.proto and
// proto/microservice.proto), each one field, in protobuf's wire format through protobufjs's
// minimal runtime: its Reader and Writer, without the .proto parser and reflection that
// @grpc/proto-loader brings. Those stayed loaded in the daemon for its whole life to
// describe these three messages: about 2 MiB of its resident memory with 40 services.
// test/grpc/protos.test.ts holds this codec to what proto-loader makes of the .proto files.
import protobuf from 'protobufjs/minimal.js'

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
  const bytes = protobuf.Writer.create().uint32(STRING_FIELD_1).string(value).finish()
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Field 1 when it has the expected wire type (the last one wins, as protobuf says); every other field is skipped. */
function readField1<T>(bytes: Buffer, tag: number, read: (reader: protobuf.Reader) => T): T | undefined {
  const reader = protobuf.Reader.create(bytes)
  let value: T | undefined
  while (reader.pos < reader.len) {
    const fieldTag = reader.uint32()
    if (fieldTag === tag) value = read(reader)
    else reader.skipType(fieldTag & 7)
  }
  return value
}
