import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:conformance`: manifests and component.yaml against the official schemas in ../shared/schemas
// (beside the clone in CI; HEATGATE_SCHEMAS overrides). Not part of `npm test`, which must pass without ../shared:
// these files end in .conformance.ts, which the default include (test/**/*.test.ts) does not match.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/conformance/**/*.conformance.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
