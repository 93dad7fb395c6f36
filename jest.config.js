// Two projects: `unit` (pure logic, no infrastructure) and `integration` (real Kafka + Postgres,
// provided by test/global-setup.ts). `npm test` runs both, serially, because CI shares 2 cores
// with the broker and the database.
// ts-jest transpiles file by file (tsconfig has isolatedModules); `npm test` type-checks with tsc first.
// Not jest 30 / @swc/jest: their platform binaries are not all served by the registry this project
// installs from, so `npm ci` could not reproduce the lock file.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/{libs,services}/*/test/**/*.unit.test.ts', '<rootDir>/test/**/*.unit.test.ts'],
    },
    {
      displayName: 'integration',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/{libs,services}/*/test/**/*.int.test.ts', '<rootDir>/test/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
