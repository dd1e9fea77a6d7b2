// The same compiler settings as `npm start` (node -r @swc/register): .swcrc, read by @swc/jest too.
const swc = ['@swc/jest'];

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // Nest 12 ships as ES modules; Jest's CommonJS runtime cannot require them on Node 20, so they
  // are compiled to CommonJS like our own sources.
  transform: { '^.+\\.(ts|js|mjs)$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|nestjs-cls)/)'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
