import { defineConfig } from 'vitest/config';

// One runner for all tiers; e2e tests drive Debian's Chromium through playwright-core. test/faults is the
// fault suite (`npm run test:faults`): small by default, longer with FAULTS_NIGHTLY=1.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/faults/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
