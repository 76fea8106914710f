// Bundles the fast path (dist/cli/fast-path.js and the modules it loads) into one CommonJS
// file, dist/cli/fast-path.cjs, which bin/run.js requires, and the background daemon into
// another (below). Node's ESM loader costs a process that starts as ES modules some 8 ms
// before its first module, and more for each module it resolves and links: `qm status`
// took 94 ms from the bundle against 128 ms as 28 modules, with `node -e 0` at 63 ms (one
// service, 20 runs in turns). The command line's normal form goes into a bundle of its own,
// dist/cli/argv.cjs, which bin/run.js reads first: `qm up` is the supervisor in the
// operator's process for as long as its services run, and bin/run.js runs it from the ES
// modules, with its V8 flags set before any of it is compiled. So `up` is left out of the
// bundle, which never runs it. Everything else the fast path runs is inside, so no class
// exists twice in a process (an `instanceof QmError` would fail across the two); the same
// holds for the daemon's bundle, which is the whole of qm that its process runs. Packages
// that CommonJS can require stay outside, loaded when a command needs them, as does the
// manifest's compiled validator (137 KB, needed only when the file is parsed); chalk,
// published as ES modules only, is in.
import {readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const bundleDir = join(dist, 'cli')
const daemonDir = join(dist, 'daemon')

// Modules the bundles leave where they are (by the module that imports them and the path it
// gives), imported by their path from the bundle's folder (dist/cli/ or dist/daemon/).
const LEFT_OUT = new Map([
  [`${join(bundleDir, 'fast-path.js')} ./up.js`, './up.js'],
  [`${join(dist, 'manifest', 'validate.js')} ./manifest-validator.cjs`, '../manifest/manifest-validator.cjs'],
])

const commonJsBundle = {bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning'}

const leftOut = {
  name: 'left-out',
  setup(builder) {
    builder.onResolve({filter: /^\.\//}, (args) => {
      const path = LEFT_OUT.get(`${args.importer} ${args.path}`)
      return path === undefined ? undefined : {path, external: true}
    })
  },
}

await build({...commonJsBundle, entryPoints: [join(bundleDir, 'argv.js')], outfile: join(bundleDir, 'argv.cjs')})

await build(bundleOf(bundleDir, 'fast-path.js', 'fast-path.cjs'))

// The background daemon, from one CommonJS file as well (dist/daemon/daemon-main.cjs): from
// its ES modules it held more for as long as it ran, the ESM loader's records of every
// module, and started later. With 40 services, medians of 4 cold and warm starts in turns:
// 56.3 against 59.5 MiB after a cold start, 59.2 against 60.5 MiB after a warm one, and the
// first service of a cold start spawned 471 against 539 ms after `qm start`. A tiny program
// holds 1.2 MiB more started as an ES module than as CommonJS.
await build(bundleOf(daemonDir, 'daemon-main.js', 'daemon-main.cjs'))

function bundleOf(dir, entry, outfile) {
  return {
    ...commonJsBundle,
    entryPoints: [join(dir, entry)],
    outfile: join(dir, outfile),
    // Any other use of import.meta would be an empty object in CommonJS: a failed build, not a
    // command that fails when it runs.
    logOverride: {'empty-import-meta': 'error'},
    external: ['better-sqlite3', 'pg', 'yaml', 'ajv', 'ajv/*', 'prom-client', '@grpc/*', 'listr2', '@peculiar/x509', 'kubernetes-models', 'kubernetes-models/*', 'reflect-metadata', '@oclif/core'],
    plugins: [leftOut, ownModuleUrl(dir)],
  }
}

/**
 * A module that finds files from its own place (package-paths.ts, manifest/cache.ts's build
 * stamp) keeps that place: its import.meta.url becomes its own file's URL, from the bundle's
 * folder at run time, so the package can move. Both bundles lie one folder below dist/, so
 * the stamp a command caches the manifest with is the daemon's.
 */
function ownModuleUrl(bundleFolder) {
  return {
    name: 'own-module-url',
    setup(builder) {
      builder.onLoad({filter: /\.js$/}, async (args) => {
        if (!args.path.startsWith(dist)) return undefined
        const source = await readFile(args.path, 'utf8')
        if (!source.includes('import.meta.url')) return undefined
        const own = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(relative(bundleFolder, args.path))})).href`
        return {contents: source.replaceAll('import.meta.url', own), loader: 'js'}
      })
    },
  }
}
