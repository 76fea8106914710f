import {defineConfig} from 'vitest/config'

// The live tests: the exported units under a real systemd booted in a container, and a
// fleet of hosts in network namespaces sharing one PostgreSQL registry. Slow (a first run
// makes a Debian root with debootstrap), as root, and one at a time, so they run apart
// from `npm test`, with `npm run test:live`.
export default defineConfig({
  test: {
    include: ['test/live/**/*.test.ts'],
    testTimeout: 180_000,
    // A first run's beforeAll makes the root file system: about two minutes of debootstrap.
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 1,
    globalSetup: ['test/global-setup.ts'],
  },
})
