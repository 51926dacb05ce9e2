import { defineConfig, configDefaults } from 'vitest/config';

/**
 * The suites that create network namespaces, links or labs (root; run them
 * under `flock /tmp/pw-netns.lock`): `npm run test:e2e`. Everything else is
 * in memory: `npm run test:fast`. `npm test` runs both, fast first.
 */
export const NETNS_SUITES = [
  'test/e2e/**/*.test.ts',
  'test/io/netns.test.ts',
  'test/io/tap.test.ts',
  'test/io/tap-offloads.test.ts',
  'test/bench/overlay-e2e.test.ts',
  'test/bench/scale-e2e.test.ts',
  'test/io/netlink-netns.test.ts',
  'test/io/tap-netns.test.ts',
  'test/dataplane/socket-underlay.test.ts',
  'test/lab/kernel-services.test.ts',
  'test/lab/kernel-netpol-load.test.ts',
];

// PODWIRE_SUITE=fast | e2e picks one half; unset: every test file.
const suite = process.env.PODWIRE_SUITE;
if (suite !== undefined && suite !== 'fast' && suite !== 'e2e') throw new Error(`PODWIRE_SUITE: expected fast or e2e, got "${suite}"`);

export default defineConfig({
  test: {
    include: suite === 'e2e' ? NETNS_SUITES : ['test/**/*.test.ts'],
    exclude: suite === 'fast' ? [...configDefaults.exclude, ...NETNS_SUITES] : configDefaults.exclude,
    // netns end-to-end tests share host names (pw-*): never run files in parallel.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // under CI a skip is a failure (test/ci/guard.ts)
    setupFiles: ['test/ci/setup.ts'],
    reporters: ['default', './test/ci/reporter.ts'],
  },
});
