/**
 * requestAPI / listServers against a mocked HTTP layer
 * (ServerConnection.makeRequest).
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  errorFromResponse,
  listServers,
  RemoteAPIError,
  requestAPI,
  toRemoteError
} from '../api';
import { IServer } from '../tokens';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: jest.fn(() => ({ baseUrl: 'http://localhost:8888/lab-base/' })),
    makeRequest: jest.fn()
  }
}));

const makeRequest = ServerConnection.makeRequest as jest.Mock;

function respond(status: number, body: string, statusText = ''): void {
  makeRequest.mockResolvedValueOnce(
    new Response(status === 204 ? null : body, { status, statusText })
  );
}

const SERVER: IServer = {
  name: 'gpu-box',
  host: 'gpu.example.org',
  port: 2222,
  user: 'ada',
  identity: '/home/ada/.ssh/id_ed25519',
  auth: 'key',
  jump: null,
  readonly: false,
  has_secret: false
};

beforeEach(() => {
  makeRequest.mockReset();
});

describe('requestAPI', () => {
  it('requests under <baseUrl>remote/ and parses JSON', async () => {
    respond(200, JSON.stringify({ ok: true }));
    const data = await requestAPI<{ ok: boolean }>('servers', { method: 'GET' });
    expect(data).toEqual({ ok: true });
    expect(makeRequest).toHaveBeenCalledTimes(1);
    const [url, init] = makeRequest.mock.calls[0];
    expect(url).toBe('http://localhost:8888/lab-base/remote/servers');
    expect(init).toEqual({ method: 'GET' });
  });

  it('returns undefined for an empty body (204)', async () => {
    respond(204, '');
    await expect(requestAPI('servers/x', { method: 'DELETE' })).resolves.toBeUndefined();
  });

  it('turns a JSON error body into RemoteAPIError fields', async () => {
    respond(
      409,
      JSON.stringify({
        message: 'Host key for gpu.example.org is unknown',
        reason: 'hostkey-unknown',
        hint: 'Check the fingerprint SHA256:abc and trust it.'
      }),
      'Conflict'
    );
    const error = await requestAPI('servers/gpu-box/test', { method: 'POST' }).catch(
      (e: unknown) => e
    );
    expect(error).toBeInstanceOf(RemoteAPIError);
    const apiError = error as RemoteAPIError;
    expect(apiError.status).toBe(409);
    expect(apiError.message).toBe('Host key for gpu.example.org is unknown');
    expect(apiError.reason).toBe('hostkey-unknown');
    expect(apiError.hint).toBe('Check the fingerprint SHA256:abc and trust it.');
    expect(apiError.toRemoteError()).toEqual({
      message: 'Host key for gpu.example.org is unknown',
      reason: 'hostkey-unknown',
      hint: 'Check the fingerprint SHA256:abc and trust it.'
    });
  });

  it('fills missing JSON fields: reason from the status text, empty hint', async () => {
    // jupyter_server's own APIHandler.write_error shape
    respond(500, JSON.stringify({ message: 'Unhandled error', reason: null }), 'Internal Server Error');
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error.status).toBe(500);
    expect(error.message).toBe('Unhandled error');
    expect(error.reason).toBe('Internal Server Error');
    expect(error.hint).toBe('');
  });

  it('falls back gracefully on a non-JSON (HTML) error body', async () => {
    respond(404, '<html><title>404: Not Found</title></html>', 'Not Found');
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error).toBeInstanceOf(RemoteAPIError);
    expect(error.status).toBe(404);
    expect(error.message).toBe('Request failed: 404 Not Found');
    expect(error.reason).toBe('Not Found');
    expect(error.hint).toMatch(/jupyter server extension list/);
  });

  it('uses a short plain-text error body as the message', async () => {
    respond(502, 'Bad gateway from proxy', 'Bad Gateway');
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error.status).toBe(502);
    expect(error.message).toBe('Bad gateway from proxy');
  });

  it('falls back on an empty error body without a status text', async () => {
    respond(500, '');
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error.message).toBe('Request failed with status 500');
    expect(error.reason).toBe('');
    expect(error.hint).toBe('');
  });

  it('treats a JSON body that is not an object as non-JSON', () => {
    const error = errorFromResponse(400, 'Bad Request', '["nope"]');
    expect(error.message).toBe('["nope"]');
    expect(error.reason).toBe('Bad Request');
  });

  it('reports a network failure as status 0 with a hint', async () => {
    makeRequest.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error).toBeInstanceOf(RemoteAPIError);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/Failed to fetch/);
    expect(error.reason).toBe('network');
    expect(error.hint).not.toBe('');
  });

  it('rejects a 2xx body that is not JSON', async () => {
    respond(200, 'not json');
    const error = (await requestAPI('servers').catch((e: unknown) => e)) as RemoteAPIError;
    expect(error).toBeInstanceOf(RemoteAPIError);
    expect(error.reason).toBe('bad-response');
  });
});

describe('listServers', () => {
  it('GETs remote/servers and returns the array', async () => {
    respond(200, JSON.stringify([SERVER]));
    await expect(listServers()).resolves.toEqual([SERVER]);
    const [url, init] = makeRequest.mock.calls[0];
    expect(url).toBe('http://localhost:8888/lab-base/remote/servers');
    expect(init.method).toBe('GET');
  });

  it('rejects a body that is not a list', async () => {
    respond(200, JSON.stringify({ servers: [SERVER] }));
    await expect(listServers()).rejects.toBeInstanceOf(RemoteAPIError);
  });
});

describe('toRemoteError', () => {
  it('keeps RemoteAPIError fields and wraps anything else', () => {
    expect(
      toRemoteError(new RemoteAPIError({ status: 400, message: 'm', reason: 'r', hint: 'h' }))
    ).toEqual({ message: 'm', reason: 'r', hint: 'h' });
    expect(toRemoteError(new Error('boom'))).toEqual({ message: 'boom', reason: '', hint: '' });
    expect(toRemoteError('text')).toEqual({ message: 'text', reason: '', hint: '' });
  });
});
