import { defineConfig } from 'vitest/config';

// Browser tests (`npm run test:e2e`, which builds web/dist first): one fork, one file at a
// time; each file starts the real server on a random port and drives Debian's chromium.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    pool: 'forks',
    maxWorkers: 1,
    isolate: false,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
