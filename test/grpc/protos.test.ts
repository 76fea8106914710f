// qm's codec of its three messages against what @grpc/proto-loader (protobufjs with the .proto
// parser, as the Node fixture services use it) makes of the very .proto files qm ships.
import {fileURLToPath} from 'node:url'
import {loadSync, type MethodDefinition} from '@grpc/proto-loader'
import {describe, expect, test} from 'vitest'
import {callMethod, healthCheckMethod} from '../../src/grpc/protos.js'

const definition = loadSync(['health.proto', 'microservice.proto'], {
  includeDirs: [fileURLToPath(new URL('../../proto/', import.meta.url))],
  enums: String,
  defaults: true,
  keepCase: true,
})
const reference = {
  health: (definition['grpc.health.v1.Health'] as Record<string, MethodDefinition<object, object>>).Check!,
  call: (definition['quantra.MicroService'] as Record<string, MethodDefinition<object, object>>).Call!,
}

const payloads = ['', 'x', JSON.stringify({oauth2: {url: 'https://auth.example/token'}, data: [], tod: 'object', eos: true}), 'é✓ — 日本', 'y'.repeat(70_000)]

describe('the Frame of quantra.MicroService/Call', () => {
  test.each(payloads.map((payload) => [payload.length, payload]))('a payload of %i characters reads back the same both ways', (_length, payload) => {
    expect(reference.call.requestDeserialize(callMethod.requestSerialize({payload}))).toEqual({payload})
    expect(callMethod.responseDeserialize(reference.call.responseSerialize({payload}))).toEqual({payload})
    expect(callMethod.requestSerialize({payload})).toEqual(reference.call.requestSerialize({payload}))
  })

  test('fields the proto does not name are skipped, and a repeated field 1 keeps its last value', () => {
    // field 2 varint 150, field 1 "a", field 3 fixed64, field 4 fixed32, field 5 bytes, field 1 "b"
    const bytes = Buffer.from([0x10, 0x96, 0x01, 0x0a, 0x01, 0x61, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 0x02, 0xff, 0xfe, 0x0a, 0x01, 0x62])
    expect(callMethod.responseDeserialize(bytes)).toEqual({payload: 'b'})
    expect(callMethod.responseDeserialize(bytes)).toEqual(reference.call.responseDeserialize(bytes))
  })

  test('an empty message is the empty payload', () => {
    expect(callMethod.responseDeserialize(Buffer.alloc(0))).toEqual({payload: ''})
  })

  test('a frame cut short reads as proto-loader reads it', () => {
    // grpc-js hands over whole messages (each has its length in front), so this is protobufjs's rule, kept.
    const whole = reference.call.responseSerialize({payload: 'hello'})
    const cut = whole.subarray(0, whole.length - 2)
    expect(callMethod.responseDeserialize(cut)).toEqual(reference.call.responseDeserialize(cut))
  })
})

describe('grpc.health.v1 Check', () => {
  test.each(['', 'quantra.MicroService'])('the request for %j reads back the same', (service) => {
    expect(reference.health.requestDeserialize(healthCheckMethod.requestSerialize({service}))).toEqual({service})
  })

  test.each(['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'])('the status %s reads as proto-loader reads it', (status) => {
    const bytes = reference.health.responseSerialize({status})
    expect(healthCheckMethod.responseDeserialize(bytes)).toEqual({status})
    expect(healthCheckMethod.responseDeserialize(bytes)).toEqual(reference.health.responseDeserialize(bytes))
  })

  test('a status the proto does not name reads as its number', () => {
    expect(healthCheckMethod.responseDeserialize(Buffer.from([0x08, 0x07]))).toEqual({status: '7'})
  })
})

describe('malformed messages', () => {
  // What qm makes of them: a value read as protobuf's wire format reads it, or a refusal,
  // which the probes report as a message they cannot decode. Never a value made up.
  const outcome = (read: () => unknown) => {
    try {
      return read()
    } catch (error) {
      return `refused: ${(error as Error).message}`
    }
  }
  test.each<[string, number[], unknown, unknown]>([
    ['a length running past the end', [0x0a, 0x05, 0x68, 0x65], {payload: 'he'}, 'refused: index out of range: 2 + 5 > 4'],
    ['a tag with nothing after it', [0x0a], 'refused: index out of range: 1 + 1 > 1', 'refused: index out of range: 1 + 1 > 1'],
    ['a varint cut short', [0x08, 0x85], 'refused: index out of range: 2 + 1 > 2', 'refused: index out of range: 2 + 1 > 2'],
    ['a ten-byte varint (a negative enum)', [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], {payload: ''}, {status: '-1'}],
    ['a varint of eleven bytes', [0x08, ...Array<number>(10).fill(0x80), 0x01], {payload: ''}, 'refused: index out of range: 11 + 10 > 12'],
    ['a group around other fields', [0x1b, 0x08, 0x01, 0x1c, 0x0a, 0x01, 0x61, 0x08, 0x02], {payload: 'a'}, {status: 'NOT_SERVING'}],
    ['a group never closed', [0x1b, 0x08, 0x01], 'refused: index out of range: 3 + 1 > 3', 'refused: index out of range: 3 + 1 > 3'],
    ['wire type 6', [0x0e], 'refused: invalid wire type 6 at offset 1', 'refused: invalid wire type 6 at offset 1'],
    ['a fixed64 cut short', [0x19, 0x01, 0x02], 'refused: index out of range: 1 + 8 > 3', 'refused: index out of range: 1 + 8 > 3'],
  ])('%s', (_what, bytes, call, health) => {
    const buffer = Buffer.from(bytes)
    expect(outcome(() => callMethod.responseDeserialize(buffer))).toEqual(call)
    expect(outcome(() => healthCheckMethod.responseDeserialize(buffer))).toEqual(health)
  })
})
