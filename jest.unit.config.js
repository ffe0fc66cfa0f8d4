/**
 * Unit tests only (tests/unit): pure code, no database, so none of the PGlite migration that the
 * full run's global setup pays for. `npm run test:unit`; `npm test` still runs these too.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/tests/unit'],
  globalSetup: undefined,
  globalTeardown: undefined,
  testTimeout: 10000,
};
