import { defineConfig } from 'vitest/config';

// One worker without per-file isolation: every test file shares one database
// (a PGlite instance costs seconds of CPU to start; see docs/testing.md).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    isolate: false,
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
