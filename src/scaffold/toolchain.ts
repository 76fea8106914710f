// The outside programs `qm new` runs in a new service's folder: Python's grpc_tools.protoc
// for the stubs (the guide's section 12.2 command) and npm for a TypeScript service.
// Each failure becomes a QmError that shows the end of the program's output.
import {execa} from 'execa'
import {QmError} from '../errors.js'
import {PROTO_FILES} from './templates.js'

export class ToolError extends QmError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, 1, 'SCAFFOLD_TOOL', hint, options)
  }
}

/** Checked before anything is written, so a Python without gRPC refuses cleanly. */
export async function checkPythonGrpc(python: string): Promise<void> {
  const result = await execa(python, ['-c', 'import grpc, grpc_tools'], {reject: false, stdin: 'ignore'})
  if (result.failed) {
    const why = result.code === 'ENOENT' ? 'it does not exist' : lastLine(String(result.stderr)) || result.shortMessage
    throw new ToolError(
      `${python} cannot import grpc and grpc_tools: ${why}`,
      'install Debian\'s python3-grpcio and python3-grpc-tools (apt install python3-grpcio python3-grpc-tools), or pass --python PATH',
    )
  }
}

export async function generatePythonStubs(python: string, folder: string): Promise<void> {
  const result = await execa(python, ['-m', 'grpc_tools.protoc', '-I.', '--python_out=.', '--grpc_python_out=.', ...PROTO_FILES], {
    cwd: folder,
    reject: false,
    stdin: 'ignore',
  })
  if (result.failed) throw new ToolError(`grpc_tools.protoc failed in ${folder}: ${tail(String(result.stderr)) || result.shortMessage}`)
}

/** `npm install` then `npm run build`; the progress callback hears each step before it starts. */
export async function installAndBuild(folder: string, onStep: (step: string) => void): Promise<void> {
  for (const args of [['install', '--no-audit', '--no-fund'], ['run', 'build']]) {
    const step = `npm ${args.join(' ')}`
    onStep(step)
    const result = await execa('npm', args, {cwd: folder, reject: false, stdin: 'ignore', all: true})
    if (result.failed) {
      throw new ToolError(
        `${step} failed in ${folder}: ${tail(String(result.all ?? '')) || result.shortMessage}`,
        args[0] === 'install' ? 'check that the npm registry is reachable, or pass --no-install and run npm install there later' : undefined,
      )
    }
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? ''
}

/** The last lines of a program's output, on one line: an error message stays one line. */
function tail(text: string, lines = 3): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.includes('npm warn'))
    .slice(-lines)
    .map((line) => line.trim())
    .join(' | ')
}
