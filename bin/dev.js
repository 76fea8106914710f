#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly; needs `npx tsx` (not a dependency). Use bin/run.js after `npm run build`.
import {execute} from '@oclif/core'
import {normalizeArgv} from '../src/cli/argv.js'

await execute({development: true, dir: import.meta.url, args: normalizeArgv(process.argv.slice(2))})
