#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly; needs `npx tsx` (not a dependency). Use bin/run.js after `npm run build`.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
