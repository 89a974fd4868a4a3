/**
 * The @jupyterlab/services a spec mocks when all it needs is a ServerConnection whose
 * requests the spec answers itself (`makeRequest` is a jest.fn). A spec's jest.mock
 * factory returns it: `jest.mock('@jupyterlab/services', () => require('./servicesMock').servicesMock())`.
 */
export function servicesMock(): Record<string, unknown> {
  return {
    ServerConnection: {
      makeSettings: jest.fn(() => ({
        baseUrl: 'http://localhost:8888/base/',
        wsUrl: 'ws://localhost:8888/base/',
        token: ''
      })),
      makeRequest: jest.fn()
    }
  };
}
