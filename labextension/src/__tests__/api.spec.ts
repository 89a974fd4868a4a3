/**
 * requestAPI / listServers against a mocked HTTP layer
 * (ServerConnection.makeRequest).
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  addProfile,
  addServer,
  attachRemoteKernel,
  forwardURL,
  listForwards,
  openForward,
  stopForward,
  errorFromResponse,
  eventsURL,
  hostKeyChanged,
  hostKeyUnknown,
  installIpykernel,
  listEnvironments,
  listHostKeys,
  listProfiles,
  listRemoteKernels,
  listServers,
  listSessions,
  RemoteAPIError,
  removeHostKey,
  removeProfile,
  removeServer,
  replaceProfile,
  requestAPI,
  retrySession,
  splitLines,
  stopRemoteKernel,
  stopSession,
  testServer,
  toRemoteError,
  trustHostKey,
  updateServer
} from '../api';
import { IServer } from '../tokens';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: jest.fn(() => ({
      baseUrl: 'http://localhost:8888/lab-base/',
      wsUrl: 'ws://localhost:8888/lab-base/',
      token: ''
    })),
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
  channel_transport: 'unix',
  warnings: [],
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
      hint: 'Check the fingerprint SHA256:abc and trust it.',
      status: 409
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
    ).toEqual({ message: 'm', reason: 'r', hint: 'h', status: 400 });
    expect(toRemoteError(new Error('boom'))).toEqual({ message: 'boom', reason: '', hint: '' });
    expect(toRemoteError('text')).toEqual({ message: 'text', reason: '', hint: '' });
  });
});

/** The [url, init] of the n-th request. */
function call(n = 0): [string, RequestInit] {
  return makeRequest.mock.calls[n] as [string, RequestInit];
}

const BASE = 'http://localhost:8888/lab-base/remote';

describe('servers', () => {
  it('POSTs a new server as JSON and returns it', async () => {
    respond(201, JSON.stringify(SERVER));
    const input = { name: 'gpu-box', host: 'gpu.example.org', port: 2222, auth: 'key' as const };
    await expect(addServer(input)).resolves.toEqual(SERVER);
    const [url, init] = call();
    expect(url).toBe(`${BASE}/servers`);
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual(input);
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('keeps the field of a 400 answer', async () => {
    respond(
      400,
      JSON.stringify({
        message: "identity '/nope' does not exist or is not a file.",
        reason: 'invalid',
        hint: 'Create a key with `ssh-keygen -t ed25519`.',
        field: 'identity'
      }),
      'Bad Request'
    );
    const error = (await addServer({ name: 'x', host: 'h', identity: '/nope' }).catch(
      (e: unknown) => e
    )) as RemoteAPIError;
    expect(error.status).toBe(400);
    expect(error.field).toBe('identity');
    expect(toRemoteError(error)).toEqual({
      message: "identity '/nope' does not exist or is not a file.",
      reason: 'invalid',
      hint: 'Create a key with `ssh-keygen -t ed25519`.',
      status: 400,
      field: 'identity'
    });
  });

  it('PATCHes and DELETEs by escaped name', async () => {
    respond(200, JSON.stringify(SERVER));
    respond(204, '');
    await updateServer('a b/c', { port: null });
    await removeServer('a b/c');
    expect(call(0)[0]).toBe(`${BASE}/servers/a%20b%2Fc`);
    expect(call(0)[1].method).toBe('PATCH');
    expect(JSON.parse(call(0)[1].body as string)).toEqual({ port: null });
    expect(call(1)[0]).toBe(`${BASE}/servers/a%20b%2Fc`);
    expect(call(1)[1].method).toBe('DELETE');
  });
});

describe('testServer and host keys', () => {
  it('returns the test result', async () => {
    const result = { server: 'gpu-box', reachable: true, host_key: { fingerprint: 'SHA256:x' } };
    respond(200, JSON.stringify(result));
    await expect(testServer('gpu-box')).resolves.toEqual(result);
    expect(call()[0]).toBe(`${BASE}/servers/gpu-box/test`);
    expect(call()[1].method).toBe('POST');
  });

  it('exposes the details of an unknown host key (409)', async () => {
    respond(
      409,
      JSON.stringify({
        message: 'The host key of [127.0.0.1]:2222 is not trusted yet: ssh-ed25519 SHA256:abc',
        reason: 'hostkey_unknown',
        hint: 'Compare the fingerprint...',
        host_id: '[127.0.0.1]:2222',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:abc'
      }),
      'Conflict'
    );
    const error = await testServer('box').catch((e: unknown) => e);
    expect(hostKeyChanged(error)).toBeNull();
    expect(hostKeyUnknown(error)).toEqual({
      reason: 'hostkey_unknown',
      host_id: '[127.0.0.1]:2222',
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:abc',
      message: 'The host key of [127.0.0.1]:2222 is not trusted yet: ssh-ed25519 SHA256:abc',
      hint: 'Compare the fingerprint...'
    });
  });

  it('exposes the details of a changed host key (409)', async () => {
    respond(
      409,
      JSON.stringify({
        message: 'WARNING: the host key of h has CHANGED.',
        reason: 'hostkey_changed',
        hint: 'jupyter remote hostkey remove h',
        host_id: 'h',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:new',
        known_fingerprints: ['SHA256:old']
      }),
      'Conflict'
    );
    const error = await testServer('box').catch((e: unknown) => e);
    expect(hostKeyUnknown(error)).toBeNull();
    expect(hostKeyChanged(error)).toMatchObject({
      reason: 'hostkey_changed',
      host_id: 'h',
      fingerprint: 'SHA256:new',
      known_fingerprints: ['SHA256:old']
    });
    expect(hostKeyChanged(new Error('x'))).toBeNull();
  });

  it('lists, trusts and removes keys (host ids are URL-encoded)', async () => {
    respond(200, JSON.stringify([]));
    respond(201, JSON.stringify({ host_id: '[127.0.0.1]:2222' }));
    respond(200, JSON.stringify({ removed: 1 }));
    respond(200, '');
    await expect(listHostKeys()).resolves.toEqual([]);
    await trustHostKey('box', 'SHA256:abc');
    await expect(removeHostKey('[127.0.0.1]:2222')).resolves.toBe(1);
    await expect(removeHostKey('gone')).resolves.toBe(0);
    expect(call(0)[0]).toBe(`${BASE}/hostkeys`);
    expect(call(1)[0]).toBe(`${BASE}/hostkeys`);
    expect(JSON.parse(call(1)[1].body as string)).toEqual({
      server: 'box',
      fingerprint: 'SHA256:abc'
    });
    expect(call(2)[0]).toBe(`${BASE}/hostkeys/%5B127.0.0.1%5D%3A2222`);
    expect(call(2)[1].method).toBe('DELETE');
  });
});

describe('environments and profiles', () => {
  it('asks for a refresh only when told', async () => {
    respond(200, '[]');
    respond(200, '[]');
    await listEnvironments('box');
    await listEnvironments('box', { refresh: true });
    expect(call(0)[0]).toBe(`${BASE}/servers/box/environments`);
    expect(call(1)[0]).toBe(`${BASE}/servers/box/environments?refresh=1`);
  });

  it('saves, replaces, lists and removes profiles', async () => {
    const input = { name: 'p', server: 'box', python: '/usr/bin/python3', env: { A: '1' } };
    respond(201, JSON.stringify({ ...input, kernel_name: 'remote-p' }));
    respond(200, JSON.stringify({ ...input, kernel_name: 'remote-p' }));
    respond(200, '[]');
    respond(204, '');
    await expect(addProfile(input)).resolves.toMatchObject({ kernel_name: 'remote-p' });
    await replaceProfile(input);
    await listProfiles();
    await removeProfile('p');
    expect(call(0)[1].method).toBe('POST');
    expect(call(0)[0]).toBe(`${BASE}/profiles`);
    expect(call(1)[1].method).toBe('PUT');
    expect(call(1)[0]).toBe(`${BASE}/profiles/p`);
    expect(call(3)[1].method).toBe('DELETE');
  });

  it('reports ipykernel_missing with the python', async () => {
    respond(
      409,
      JSON.stringify({
        message: 'ipykernel is not installed in /usr/bin/python3 on box.',
        reason: 'ipykernel_missing',
        hint: 'Install it.',
        python: '/usr/bin/python3'
      })
    );
    const error = (await addProfile({ name: 'p', server: 'box' }).catch(
      (e: unknown) => e
    )) as RemoteAPIError;
    expect(error.reason).toBe('ipykernel_missing');
    expect(error.details.python).toBe('/usr/bin/python3');
  });
});

/** A streamed response whose body arrives in the given chunks. */
function streamed(chunks: string[], status = 200): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(encoder.encode(chunk));
      }
      controller.close();
    }
  });
  return new Response(body, { status });
}

describe('installIpykernel', () => {
  it('streams pip output line by line, across chunk boundaries', async () => {
    makeRequest.mockResolvedValueOnce(
      streamed([
        '{"type":"output","line":"Collecting ipy',
        'kernel"}\n{"type":"output","line":"Installing"}\n',
        '{"type":"done","ok":true}'
      ])
    );
    const lines: string[] = [];
    await installIpykernel('box', '/usr/bin/python3', line => lines.push(line));
    expect(lines).toEqual(['Collecting ipykernel', 'Installing']);
    const [url, init] = call();
    expect(url).toBe(`${BASE}/servers/box/install-ipykernel`);
    expect(JSON.parse(init.body as string)).toEqual({ python: '/usr/bin/python3' });
  });

  it('rejects with the final error line', async () => {
    makeRequest.mockResolvedValueOnce(
      streamed([
        '{"type":"output","line":"error: externally-managed-environment"}\n',
        '{"type":"error","message":"pip could not install ipykernel","reason":"remote_command_failed","hint":"use a venv"}\n'
      ])
    );
    const lines: string[] = [];
    const error = (await installIpykernel('box', '/usr/bin/python3', l => lines.push(l)).catch(
      (e: unknown) => e
    )) as RemoteAPIError;
    expect(lines).toEqual(['error: externally-managed-environment']);
    expect(error).toBeInstanceOf(RemoteAPIError);
    expect(error.message).toBe('pip could not install ipykernel');
    expect(error.hint).toBe('use a venv');
  });

  it('rejects when the stream ends without a verdict', async () => {
    makeRequest.mockResolvedValueOnce(streamed(['{"type":"output","line":"x"}\n']));
    const error = (await installIpykernel('box', '/p', () => undefined).catch(
      (e: unknown) => e
    )) as RemoteAPIError;
    expect(error.reason).toBe('stream_cut');
  });

  it('rejects on an error status before the stream', async () => {
    respond(404, JSON.stringify({ message: 'No server named box.', reason: 'not_found', hint: '' }));
    const error = (await installIpykernel('box', '/p', () => undefined).catch(
      (e: unknown) => e
    )) as RemoteAPIError;
    expect(error.status).toBe(404);
    expect(error.reason).toBe('not_found');
  });

  it('splitLines keeps the unfinished rest and shows non-JSON lines as output', async () => {
    const got: string[] = [];
    expect(splitLines('a\n\nb\nrest', l => got.push(l))).toBe('rest');
    expect(got).toEqual(['a', 'b']);
    makeRequest.mockResolvedValueOnce(streamed(['plain text\n{"type":"done","ok":true}\n']));
    const lines: string[] = [];
    await installIpykernel('box', '/p', l => lines.push(l));
    expect(lines).toEqual(['plain text']);
  });
});

describe('sessions and remote kernels', () => {
  it('lists, stops and retries sessions', async () => {
    respond(200, '[]');
    respond(204, '');
    respond(200, JSON.stringify({ id: 'k1', state: 'reconnecting' }));
    await listSessions();
    await stopSession('k1');
    await expect(retrySession('k1')).resolves.toMatchObject({ state: 'reconnecting' });
    expect(call(0)[0]).toBe(`${BASE}/sessions`);
    expect(call(1)[0]).toBe(`${BASE}/sessions/k1`);
    expect(call(1)[1].method).toBe('DELETE');
    expect(call(2)[0]).toBe(`${BASE}/sessions/k1/retry`);
    expect(call(2)[1].method).toBe('POST');
  });

  it('lists and stops remote kernels', async () => {
    respond(200, '[]');
    respond(200, JSON.stringify({ stopped: true }));
    await listRemoteKernels('box');
    await stopRemoteKernel('box', 'k1');
    expect(call(0)[0]).toBe(`${BASE}/servers/box/kernels`);
    expect(call(1)[0]).toBe(`${BASE}/servers/box/kernels/k1`);
    expect(call(1)[1].method).toBe('DELETE');
  });

  it("refuses a hostile listing's kernel id '..' (DELETE would reach servers/box itself)", async () => {
    for (const id of ['..', '.']) {
      await expect(stopRemoteKernel('box', id)).rejects.toThrow(/"\." or "\.\." segment/);
      await expect(attachRemoteKernel('box', id)).rejects.toThrow(/"\." or "\.\." segment/);
    }
    for (const path of ['servers/box/files/a/../../../api/shutdown', 'servers/box/%2e%2E', 'servers/box/.%2e/x']) {
      await expect(requestAPI(path, { method: 'POST' })).rejects.toThrow(/segment/);
    }
    expect(makeRequest).not.toHaveBeenCalled();
    // a name that merely holds '%2e' is encoded, no dot segment: it goes through
    respond(200, JSON.stringify({ stopped: true }));
    await stopRemoteKernel('box', '%2e%2e');
    expect(call(0)[0]).toBe(`${BASE}/servers/box/kernels/%252e%252e`);
  });

  it('rejects a sessions answer that is not a list', async () => {
    respond(200, '{}');
    await expect(listSessions()).rejects.toBeInstanceOf(RemoteAPIError);
  });
});

describe('eventsURL', () => {
  it('is wsUrl + remote/events, with the token only when there is one', () => {
    expect(eventsURL({ wsUrl: 'ws://h:1/base/', token: '' })).toBe('ws://h:1/base/remote/events');
    expect(eventsURL({ wsUrl: 'wss://h/', token: 'a b&c' })).toBe(
      'wss://h/remote/events?token=a%20b%26c'
    );
    expect(eventsURL()).toBe('ws://localhost:8888/lab-base/remote/events');
  });
});

describe('attach and forwards', () => {
  it('attaches a remote kernel', async () => {
    respond(201, JSON.stringify({ id: 'k1', name: 'remote-torch' }));
    await expect(attachRemoteKernel('box', 'k1')).resolves.toMatchObject({ id: 'k1' });
    expect(call()[0]).toBe(`${BASE}/servers/box/kernels/k1/attach`);
    expect(call()[1].method).toBe('POST');
  });

  it('opens, lists and stops forwards; builds the proxy URL', async () => {
    const forward = { id: 'f1', kind: 'forward', url: '/remote/forward/f1/' };
    respond(201, JSON.stringify(forward));
    respond(200, JSON.stringify([forward]));
    respond(204, '');
    await openForward({ server: 'box', remote_port: 6006 });
    await listForwards();
    await stopForward('f1');
    expect(JSON.parse(call(0)[1].body as string)).toEqual({ server: 'box', remote_port: 6006 });
    expect(call(0)[0]).toBe(`${BASE}/forwards`);
    expect(call(2)[0]).toBe(`${BASE}/forwards/f1`);
    expect(call(2)[1].method).toBe('DELETE');
    expect(forwardURL(forward)).toBe('http://localhost:8888/lab-base/remote/forward/f1/');
  });
});
