import { availableParallelism } from 'node:os';

/** Jest runs TypeScript as native ESM (jose and oauth4webapi are ESM-only). */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.js',
  testTimeout: 30000,
  // Jest's default (one worker fewer than cores) runs everything in one process on two cores. The
  // suites spend most of their time waiting on sockets, child processes and browsers, so more
  // workers than cores overlap those waits (measured on two cores: 1 worker ~10 min, 2 workers
  // 206 s, 4 workers 146 s, 6 no faster). Files are independent (port 0, a Redis key prefix per
  // test, own temp dirs).
  maxWorkers: Math.max(4, availableParallelism()),
};
