/** Unit specs sit beside the code; e2e suites boot the real app against real PostgreSQL (and, later, Redis). */
// ts-jest in transpile-only mode: type errors are `npm run typecheck`'s job, so each file compiles alone (fast).
const transform = { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: 'tsconfig.json' }] };
const common = { transform, moduleFileExtensions: ['ts', 'js', 'json'], testEnvironment: 'node' };

module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testRegex: '\\.spec\\.ts$' },
    {
      ...common,
      displayName: 'e2e',
      rootDir: '.',
      testRegex: 'test/.*\\.e2e-spec\\.ts$',
      // Node runtimes fetched for the benchmarks and CI (test/support/shipped-node.ts): not modules of ours.
      modulePathIgnorePatterns: ['<rootDir>/.cache/', '<rootDir>/dist-bench/'],
      setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
