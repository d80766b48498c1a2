import path from 'node:path';
import { defineConfig } from 'vitest/config';

const here = path.dirname(new URL(import.meta.url).pathname);

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, not the compiled dist/.
    alias: {
      '@pulsebridge/core': path.join(here, 'packages/core/src/index.ts'),
      '@pulsebridge/api': path.join(here, 'apps/api/src/index.ts'),
      '@pulsebridge/worker': path.join(here, 'apps/worker/src/index.ts'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
