// Bundles the fast path (dist/cli/fast-path.js and the modules it loads) into one CommonJS
// file, dist/cli/fast-path.cjs, which bin/run.js requires. Node's ESM loader costs a
// process that starts as ES modules some 8 ms before its first module, and more for each
// module it resolves and links: `qm status` took 94 ms from the bundle against 128 ms as
// 28 modules, with `node -e 0` at 63 ms (one service, 20 runs in turns). The command line's
// normal form goes into a bundle of its own, dist/cli/argv.cjs, which bin/run.js reads
// first: `qm up` is the supervisor in the operator's process for as long as its services
// run, and bin/run.js runs it from the ES modules, as the daemon runs, with its V8 flags set
// before any of it is compiled. So `up` is left out of the bundle, which never runs it.
// Everything else the fast path runs is inside, so no class exists twice in a process (an
// `instanceof QmError` would fail across the two). Packages that CommonJS can require stay
// outside, loaded when a command needs them, as does the manifest's compiled validator
// (137 KB, needed only when the file is parsed); chalk and execa, ES modules only, are in.
import {readFile} from 'node:fs/promises'
import {relative} from 'node:path'
import {build} from 'esbuild'

const dist = new URL('../dist/', import.meta.url).pathname
const bundleDir = `${dist}cli`

// Modules the bundle leaves where they are, imported from dist/cli/ by their path there.
const LEFT_OUT = new Map([
  ['./up.js', './up.js'],
  ['./manifest-validator.cjs', '../manifest/manifest-validator.cjs'],
])

await build({
  entryPoints: [`${dist}cli/argv.js`],
  outfile: `${dist}cli/argv.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
})

await build({
  entryPoints: [`${dist}cli/fast-path.js`],
  outfile: `${dist}cli/fast-path.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  external: ['better-sqlite3', 'pg', 'yaml', 'ajv', 'ajv/*', 'prom-client', '@grpc/*', 'listr2', '@peculiar/x509', 'kubernetes-models', 'kubernetes-models/*', 'reflect-metadata', '@oclif/core'],
  plugins: [
    {
      name: 'left-out',
      setup(builder) {
        builder.onResolve({filter: /^\.\/(up\.js|manifest-validator\.cjs)$/}, (args) => ({path: LEFT_OUT.get(args.path), external: true}))
      },
    },
    {
      // A module that finds files from its own place (package-paths.ts, manifest/cache.ts's
      // build stamp) keeps that place: its import.meta.url becomes its own file's URL,
      // from the bundle's folder at run time, so the package can move.
      name: 'own-module-url',
      setup(builder) {
        builder.onLoad({filter: /\/dist\/.*\.js$/}, async (args) => {
          const source = await readFile(args.path, 'utf8')
          if (!source.includes('import.meta.url')) return undefined
          const own = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(relative(bundleDir, args.path))})).href`
          return {contents: source.replaceAll('import.meta.url', own), loader: 'js'}
        })
      },
    },
  ],
})
