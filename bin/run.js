#!/usr/bin/env node
// The commands typed all day (status, stop and restart with a daemon running, start with
// or without one, --version, endpoints, logs -n) and the long-running ones (top, up) run
// without oclif when their command line is plain: loading oclif costs more than the rest of
// them, and stays resident for as long as a long-running one runs. This file is CommonJS
// (bin/package.json), like the fast path's bundle it requires (scripts/build-fast-path.mjs):
// a process that starts as an ES module pays for Node's ESM loader before anything of qm's.
// `qm up` and oclif's commands run as ES modules.
'use strict'
const {join} = require('node:path')

/** The compiled qm this file runs; a checkout has it only once `npm run setup` (or `npm run build`) has run. */
function compiled(file) {
  try {
    return require(file)
  } catch (error) {
    // Only the file itself: a module missing under it is another matter, said as it is.
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).split('\n')[0] === `Cannot find module '${file}'`) throw new NotBuilt()
    throw error
  }
}

/** The same for an ES module of dist/ (qm up runs from those). */
async function compiledModule(file) {
  try {
    return await import(file)
  } catch (error) {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).startsWith(`Cannot find module '${join(__dirname, file)}'`)) throw new NotBuilt()
    throw error
  }
}

class NotBuilt extends Error {
  constructor() {
    super(`qm is not built in ${join(__dirname, '..')}: its dist/ folder is missing or incomplete`)
  }
}

async function main() {
  const {normalizeArgv} = compiled('../dist/cli/argv.cjs')
  const args = normalizeArgv(process.argv.slice(2))
  let fastExit
  if (args[0] === 'up') {
    // qm up is the supervisor in this process, for as long as its services run: tuned as the
    // background daemon is, as far as a running process can be, and before anything else is
    // compiled (set after the manifest has loaded, it holds 5 MiB more). It runs from the ES
    // modules; the fast path's bundle leaves it out.
    const [{setFlagsFromString}, {V8_FLAGS_SETTABLE_LATE}] = await Promise.all([import('node:v8'), compiledModule('../dist/control/daemon-node-flags.js')])
    setFlagsFromString(V8_FLAGS_SETTABLE_LATE.join(' '))
    fastExit = await (await compiledModule('../dist/cli/fast-path.js')).runFastPath(args)
  } else {
    fastExit = await compiled('../dist/cli/fast-path.cjs').runFastPath(args)
  }
  if (fastExit !== undefined) {
    process.exitCode = fastExit
    return
  }
  // oclif checks the Node version against package.json on every start by loading semver,
  // about 60 ms of a command; npm already checks `engines` at install time.
  const ownSwitch = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
  if (ownSwitch) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  const {execute, settings} = await import('@oclif/core')
  // With NODE_ENV=test or development (a test runner sets it; so may an operator's shell)
  // oclif would look for TypeScript sources to transpile at run time: it loads TypeScript
  // to read tsconfig.json and tries tsx and ts-node, some 0.9 s a command.
  settings.enableAutoTranspile = false
  // Not passed on to the daemon and the services it starts.
  if (ownSwitch) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  // The package's folder, where oclif finds package.json (bin/ has one of its own).
  await execute({dir: join(__dirname, '..'), args})
}

// A command whose work ended with nothing left to wait for, and no answer: a bug, said so
// and not passed off as success (an ES module's top-level await exited 13 here).
let settled = false
process.on('exit', (code) => {
  if (settled || code !== 0) return
  process.stderr.write('qm: internal error, please report it: the command ended without finishing\n')
  process.exitCode = 13
})

main().finally(() => (settled = true)).then(
  // The command has finished and said everything (writes to pipes, files and terminals are
  // synchronous on Linux). A gRPC dial whose TLS handshake a hung (SIGSTOPped) service never
  // answers keeps a socket open after the channel is closed; a probe command must end within
  // its timeout all the same, so nothing left over keeps the process alive.
  () => process.exit(),
  (error) => {
    if (error instanceof NotBuilt) {
      // Said in the form of qm's own errors, which cannot be loaded: they are in dist/ too.
      process.stderr.write(`error ${error.message}\nhint  run npm run setup in that folder (or npm ci, then npm run build)\n`)
      process.exit(1)
    }
    process.stderr.write(`qm: internal error, please report it: ${(error && error.stack) || String(error)}\n`)
    process.exit(1)
  },
)
