#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly, through tsx. Use bin/run.js after `npm run build`.
// An ES module in bin/, whose package.json makes .js files CommonJS (for bin/run.js).
import {fileURLToPath} from 'node:url'
import {execute} from '@oclif/core'
import {normalizeArgv} from '../src/cli/argv.js'

// The package's folder, where oclif finds package.json (bin/ has one of its own).
await execute({development: true, dir: fileURLToPath(new URL('..', import.meta.url)), args: normalizeArgv(process.argv.slice(2))})
