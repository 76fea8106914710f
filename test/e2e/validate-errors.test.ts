// Every malformed manifest gives one line naming file:line:column and the field, exit
// code 2, and leaves nothing behind: no .qm folder, no registry.
import {existsSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {runQm} from '../helpers/run-qm.js'
import {tempDir} from '../helpers/temp-dir.js'

const head = 'version: 1\nservices:\n  a:\n    command: [python3]\n'

const CASES: [string, string, string][] = [
  ['bad YAML', 'version: 1\nservices:\n  a:\n    command: [x\n', 'services.yaml:5:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  ['a command given as one string', 'version: 1\nservices:\n  a:\n    command: "python3 server.py"\n', 'services.yaml:4:14: services.a.command: must be a non-empty list of strings (argv, never run through a shell), for example [python3, server.py], got "python3 server.py"'],
  ['an unknown field', `${head}    prot: 50051\n`, 'services.yaml:5:5: services.a.prot: unknown field "prot" (did you mean "port"?)'],
  ['a port outside the range', `${head}    port: 8080\n`, 'services.yaml:5:11: services.a.port: must be in 50051–50090, got 8080'],
  ['a duplicate port', `${head}    port: 50052\n  b:\n    command: [python3]\n    port: 50052\n`, 'services.yaml:8:11: services.b.port: port 50052 is already given to a'],
  ['an unknown depends_on', `${head}    depends_on: [c]\n`, 'services.yaml:5:18: services.a.depends_on[0]: unknown service "c"'],
  ['a dependency cycle', `${head}    depends_on: [b]\n  b:\n    command: [python3]\n    depends_on: [a]\n`, 'services.yaml:5:17: services.a.depends_on: dependency cycle: a → b → a'],
  ['a missing command', 'version: 1\nservices:\n  a:\n    port: auto\n', 'services.yaml:4:5: services.a: missing required field "command"'],
  ['no services', 'version: 1\nservices: {}\n', 'services.yaml:2:11: services: must be at least one service, got an empty mapping'],
  ['a duration without a unit', `version: 1\ndefaults:\n  stop_timeout: 10\nservices:\n  a:\n    command: [python3]\n`, 'services.yaml:3:17: defaults.stop_timeout: must be a duration such as 500ms, 10s, 2m or 1h, got 10'],
  ['a duration in words', `version: 1\ndefaults:\n  health: {interval: 10 seconds}\nservices:\n  a:\n    command: [python3]\n`, 'services.yaml:3:22: defaults.health.interval: must be a duration such as 500ms, 10s, 2m or 1h, got "10 seconds"'],
  ['an unknown version', 'version: 2\nservices:\n  a:\n    command: [python3]\n', 'services.yaml:1:10: version: must be the number 1, got 2'],
  ['a service name with capitals', 'version: 1\nservices:\n  Bad-Name:\n    command: [python3]\n', 'services.yaml:3:3: services.Bad-Name: "Bad-Name" is not a valid name; expected a lowercase, underscore-separated name such as pdf_extractor'],
  ['an unknown restart policy', `${head}    restart: sometimes\n`, 'services.yaml:5:14: services.a.restart: must be one of always, on-failure, never, got "sometimes"'],
  ['an unset variable', `${head}    env: {TOKEN: "\${TOKEN_UNSET_IN_TEST}"}\n`, 'services.yaml:5:18: services.a.env.TOKEN: variable TOKEN_UNSET_IN_TEST is not set and has no default'],
  ['a port that is a word', `${head}    port: autos\n`, 'services.yaml:5:11: services.a.port: must be auto or a port number in 50051–50090, got "autos"'],
  ['a service defined twice', `${head}  a:\n    command: [node]\n`, 'services.yaml:5:3: this key appears twice in the same mapping; each may appear once'],
  ['a reversed port range', 'version: 1\nport_range: [50090, 50051]\nservices:\n  a:\n    command: [python3]\n', 'services.yaml:2:13: port_range: must be [first, last] with first <= last, got [50090, 50051]'],
  ['zero instances', `${head}    instances: 0\n`, 'services.yaml:5:16: services.a.instances: must be at least 1, got 0'],
  ['a lowercase log level', `${head}    log_level: info\n`, 'services.yaml:5:16: services.a.log_level: must be one of DEBUG, INFO, WARNING, ERROR, got "info"'],
  ['a list at the top', '- just\n- a list\n', 'services.yaml:1:1: the manifest must be a mapping with version and services'],
  ['an empty file', '', 'services.yaml:1:1: the manifest is empty; expected a mapping with version and services'],
  ['an empty command', 'version: 1\nservices:\n  a:\n    command: []\n', 'services.yaml:4:14: services.a.command: must be a non-empty list of strings (argv, never run through a shell), for example [python3, server.py], got an empty list'],
  ['a fixed port with instances', `${head}    port: 50051\n    instances: 2\n`, 'services.yaml:5:11: services.a.port: a fixed port serves one process, but instances is 2'],
  ['an unclosed variable', `${head}    env: {X: "\${Y"}\n`, 'services.yaml:5:14: services.a.env.X: "${Y" has no closing brace'],
  ['an unknown probe type', `${head}    health: {type: http}\n`, 'services.yaml:5:20: services.a.health.type: must be one of auto, grpc, call, tcp, got "http"'],
]

describe('qm validate on malformed manifests', () => {
  it.each(CASES)('rejects %s with one line naming the place', async (_name, text, expected) => {
    const dir = tempDir()
    writeFileSync(join(dir, 'services.yaml'), text)
    const result = await runQm(['validate'], {cwd: dir})
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.split('\n')[0]).toBe(`error ${expected}`)
    expect(existsSync(join(dir, '.qm'))).toBe(false)
    expect(readdirSync(dir)).toEqual(['services.yaml'])
  })

  it('reports the error as JSON with --json', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'services.yaml'), `${head}    restart: sometimes\n`)
    const result = await runQm(['validate', '--json'], {cwd: dir})
    expect(result.exitCode).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({
      error: {code: 'MANIFEST', exitCode: 2, message: 'services.yaml:5:14: services.a.restart: must be one of always, on-failure, never, got "sometimes"'},
    })
  })

  it('leaves the registry untouched when register meets a broken manifest', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'services.yaml'), `${head}    port: 8080\n`)
    const result = await runQm(['register', 'a'], {cwd: dir})
    expect(result.exitCode).toBe(2)
    expect(existsSync(join(dir, '.qm'))).toBe(false)
  })
})
