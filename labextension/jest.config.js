/**
 * Unit tests for the pure parts of the frontend: the request module, the
 * model and the React components. They run in Node (which has fetch/Response)
 * with @jupyterlab/services mocked per test file, so no JupyterLab ESM bundle
 * has to be transformed.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts?(x)'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  moduleNameMapper: {
    '\\.(css|svg)$': '<rootDir>/src/__tests__/assetStub.js'
  },
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json']
};
