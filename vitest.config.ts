import { defineConfig } from 'vitest/config';

// `npm test`: the fast suites that need nothing beyond `npm ci`.
// `npm run test:slow`: suites that need Debian packages (python3-torch references, Chromium); .ci/run installs them.
const slow = ['test/reference/**', 'test/browser/**'];

export default defineConfig({
  test: {
    include: process.env.HEATGATE_SLOW_TESTS ? slow.map((dir) => `${dir}/*.test.ts`) : ['test/**/*.test.ts'],
    exclude: process.env.HEATGATE_SLOW_TESTS ? [] : [...slow, 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
