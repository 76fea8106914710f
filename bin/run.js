#!/usr/bin/env node
// oclif checks the Node version against package.json on every start by loading semver,
// about 60 ms of `qm status`; npm already checks `engines` at install time.
const ownSwitch = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
if (ownSwitch) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute} = await import('@oclif/core')
// Not passed on to the daemon and the services it starts.
if (ownSwitch) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

await execute({dir: import.meta.url})
