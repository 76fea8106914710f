#!/usr/bin/env node
// oclif checks the Node version against package.json on every start by loading semver,
// about 60 ms of `qm status`; npm already checks `engines` at install time.
const ownSwitch = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
if (ownSwitch) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const [{execute}, {normalizeArgv}] = await Promise.all([import('@oclif/core'), import('../dist/cli/argv.js')])
// Not passed on to the daemon and the services it starts.
if (ownSwitch) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

await execute({dir: import.meta.url, args: normalizeArgv(process.argv.slice(2))})
