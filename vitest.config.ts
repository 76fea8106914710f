import {configDefaults, defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A container with a live systemd: `npm run test:live`, vitest.live.config.ts.
    exclude: [...configDefaults.exclude, 'test/live/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only add contention to tests that spawn processes.
    maxWorkers: 2,
    // Checks the Debian packages the suite needs before any test runs (scripts/debian-packages.txt).
    globalSetup: ['test/global-setup.ts'],
  },
})
