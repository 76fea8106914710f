import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only add contention to tests that spawn processes.
    maxWorkers: 2,
    // The tests run real services on a shared, noisy machine; a test that fails once and then
    // passes is reported as flaky in the output rather than failing the run.
    retry: 1,
  },
})
