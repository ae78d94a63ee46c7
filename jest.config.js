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
  // suites spend much of their time waiting on sockets, child processes and browsers: two workers
  // overlap those waits. Files are independent (port 0, a Redis key prefix per test, own temp dirs).
  maxWorkers: Math.max(2, availableParallelism() - 1),
};
