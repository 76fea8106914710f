// The two protos qm speaks, loaded once per process from the package's proto/ folder with
// @grpc/proto-loader: no generated code to keep in step with the .proto files.
import {fileURLToPath} from 'node:url'
import {loadSync, type MethodDefinition, type PackageDefinition} from '@grpc/proto-loader'

/**
 * Both src/health (tests) and dist/health (the built CLI) sit two levels below the
 * package root, so the same relative URL finds proto/ from either.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url))

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'
export const CALL_PATH = '/quantra.MicroService/Call'

export interface Frame {
  payload: string
}

export interface HealthCheckRequest {
  service: string
}

export interface HealthCheckResponse {
  /** The enum as its name, proto-loader's `enums: String`. */
  status: string
}

export interface ProbeMethods {
  healthCheck: MethodDefinition<HealthCheckRequest, HealthCheckResponse>
  call: MethodDefinition<Frame, Frame>
}

let methods: ProbeMethods | undefined

export function probeMethods(): ProbeMethods {
  if (methods) return methods
  const definition: PackageDefinition = loadSync(['health.proto', 'microservice.proto'], {
    includeDirs: [PROTO_DIR],
    enums: String,
    defaults: true,
    keepCase: true,
  })
  methods = {
    healthCheck: method(definition, 'grpc.health.v1.Health', 'Check') as ProbeMethods['healthCheck'],
    call: method(definition, 'quantra.MicroService', 'Call') as ProbeMethods['call'],
  }
  return methods
}

function method(definition: PackageDefinition, service: string, name: string): MethodDefinition<object, object> {
  const svc = definition[service] as Record<string, MethodDefinition<object, object> | undefined> | undefined
  const m = svc?.[name]
  if (!m) throw new Error(`${service}/${name} is missing from the protos in ${PROTO_DIR}`)
  return m
}
