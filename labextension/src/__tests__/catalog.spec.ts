/**
 * CatalogModel on its own: refresh (servers, profiles, host keys) through the
 * real request module, errors, polling with back-off, saving servers and
 * profiles, trusting and removing keys, removals with their action error,
 * and profilesChanged (which refreshes the kernelspecs).
 */
import { ServerConnection } from '@jupyterlab/services';

import { RemoteAPIError } from '../api';
import { refreshKernelspecsOnChange } from '../catalog/kernelspecs';
import { CatalogModel } from '../catalog/model';
import { fakeCatalogAPI, KEYS, PROFILES, SERVERS } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: jest.fn(() => ({
      baseUrl: 'http://localhost:8888/',
      wsUrl: 'ws://localhost:8888/',
      token: 'secret'
    })),
    makeRequest: jest.fn()
  }
}));

const makeRequest = ServerConnection.makeRequest as jest.Mock;

describe('CatalogModel refresh (through the real api/)', () => {
  let model: CatalogModel;

  beforeEach(() => {
    makeRequest.mockReset();
    model = new CatalogModel();
  });

  afterEach(() => {
    model.dispose();
  });

  function answer(byPath: Record<string, [number, unknown]>): void {
    makeRequest.mockImplementation((url: string) => {
      const path = url.replace('http://localhost:8888/remote/', '');
      const [status, body] = byPath[path] ?? [404, { message: 'nope' }];
      return Promise.resolve(new Response(JSON.stringify(body), { status }));
    });
  }

  it('starts empty', () => {
    expect(model.servers).toEqual([]);
    expect(model.profiles).toEqual([]);
    expect(model.hostKeys).toEqual([]);
    expect(model.loading).toBe(false);
    expect(model.loaded).toBe(false);
    expect(model.error).toBeNull();
  });

  it('fetches servers, profiles and host keys, and emits changed around it', async () => {
    answer({ servers: [200, SERVERS], profiles: [200, PROFILES], hostkeys: [200, KEYS] });
    const states: Array<{ loading: boolean; count: number }> = [];
    model.changed.connect(m => {
      states.push({ loading: m.loading, count: m.servers.length });
    });
    await model.refresh();
    expect(model.servers).toEqual(SERVERS);
    expect(model.profiles).toEqual(PROFILES);
    expect(model.profilesOf('gpu-box').map(p => p.name)).toEqual(['torch', 'base']);
    expect(model.profilesOf('cluster')).toEqual([]);
    expect(model.server('cluster')?.host).toBe('login.cluster.example.org');
    expect(model.server('nope')).toBeNull();
    expect(model.profile('base')?.cwd).toBe('/data');
    expect(model.hostKeys).toEqual(KEYS);
    expect(model.loaded).toBe(true);
    expect(states).toEqual([
      { loading: true, count: 0 },
      { loading: false, count: 2 }
    ]);
    const urls = makeRequest.mock.calls.map(c => c[0]).sort();
    expect(urls).toEqual([
      'http://localhost:8888/remote/hostkeys',
      'http://localhost:8888/remote/profiles',
      'http://localhost:8888/remote/servers'
    ]);
  });

  it('keeps {message, reason, hint} of a failure and does not reject', async () => {
    answer({
      servers: [
        500,
        { message: 'Could not read the server store', reason: 'store-corrupt', hint: 'Fix or remove servers.json' }
      ],
      profiles: [200, []],
      hostkeys: [200, []]
    });
    await expect(model.refresh()).resolves.toBeUndefined();
    expect(model.error).toEqual({
      message: 'Could not read the server store',
      reason: 'store-corrupt',
      hint: 'Fix or remove servers.json',
      status: 500
    });
    expect(model.loading).toBe(false);
    expect(model.loaded).toBe(true);
  });

  it('a failing host-key listing does not hide the servers', async () => {
    answer({
      servers: [200, SERVERS],
      profiles: [200, PROFILES],
      hostkeys: [500, { message: 'boom', reason: 'x', hint: '' }]
    });
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.servers).toEqual(SERVERS);
    expect(model.hostKeysError?.message).toBe('boom');
  });

  it('an older server without profiles (404) still shows its servers', async () => {
    answer({ servers: [200, SERVERS], hostkeys: [200, KEYS] });
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.servers).toEqual(SERVERS);
    expect(model.profiles).toEqual([]);
  });

  it('keeps the last servers on failure and clears the error on the next success', async () => {
    answer({ servers: [200, SERVERS], profiles: [200, PROFILES], hostkeys: [200, KEYS] });
    await model.refresh();
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));
    await model.refresh();
    expect(model.servers).toEqual(SERVERS);
    expect(model.error?.reason).toBe('network');
    answer({ servers: [200, [SERVERS[0]]], profiles: [200, []], hostkeys: [200, []] });
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.servers).toEqual([SERVERS[0]]);
  });

  it('shares one request between overlapping refreshes', async () => {
    answer({ servers: [200, SERVERS], profiles: [200, PROFILES], hostkeys: [200, KEYS] });
    await Promise.all([model.refresh(), model.refresh(), model.refresh()]);
    expect(makeRequest).toHaveBeenCalledTimes(3); // servers + profiles + keys, once
  });

  it('does nothing after dispose', async () => {
    model.dispose();
    expect(model.isDisposed).toBe(true);
    await model.refresh();
    model.startPolling();
    expect(model.polling).toBe(false);
    expect(makeRequest).not.toHaveBeenCalled();
  });
});

describe('CatalogModel polling', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('fetches on start, every interval, and stops on stopPolling/dispose', async () => {
    const api = fakeCatalogAPI();
    const model = new CatalogModel({ api, interval: 10000 });

    model.startPolling();
    expect(model.polling).toBe(true);
    await jest.advanceTimersByTimeAsync(1);
    expect(api.listServers).toHaveBeenCalledTimes(1);
    expect(model.servers).toEqual(SERVERS);

    await jest.advanceTimersByTimeAsync(10000);
    expect(api.listServers).toHaveBeenCalledTimes(2);

    // starting twice does not double the polling
    model.startPolling();
    await jest.advanceTimersByTimeAsync(10000);
    expect(api.listServers).toHaveBeenCalledTimes(3);

    model.stopPolling();
    expect(model.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(api.listServers).toHaveBeenCalledTimes(3);

    model.startPolling();
    await jest.advanceTimersByTimeAsync(1);
    expect(api.listServers).toHaveBeenCalledTimes(4);
    model.dispose();
    expect(model.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(api.listServers).toHaveBeenCalledTimes(4);
  });

  it('backs off after failures and keeps the error', async () => {
    const listServers = jest.fn(() => Promise.reject(new Error('down')));
    const model = new CatalogModel({ api: fakeCatalogAPI({ listServers }), interval: 10000 });
    model.startPolling();
    await jest.advanceTimersByTimeAsync(1);
    expect(listServers).toHaveBeenCalledTimes(1);
    expect(model.error?.message).toBe('down');
    await jest.advanceTimersByTimeAsync(200000);
    expect(listServers.mock.calls.length).toBeLessThan(20);
    expect(listServers.mock.calls.length).toBeGreaterThan(1);
    model.dispose();
  });
});

describe('CatalogModel changes', () => {
  let api: jest.Mocked<CatalogModel.IAPI>;
  let model: CatalogModel;
  let profilesChanged: number;

  beforeEach(async () => {
    api = fakeCatalogAPI();
    model = new CatalogModel({ api });
    await model.refresh();
    profilesChanged = 0;
    model.profilesChanged.connect(() => profilesChanged++);
  });

  afterEach(() => {
    model.dispose();
  });

  it('saves a new server (POST) and an edited one (PATCH); the answer is listed at once', async () => {
    const saved = await model.saveServer({ name: 'new-box', host: 'new.example.org' });
    expect(api.addServer).toHaveBeenCalledWith({ name: 'new-box', host: 'new.example.org' });
    expect(saved.name).toBe('new-box');
    expect(model.server('new-box')?.host).toBe('new.example.org');

    await model.saveServer({ jump: 'hop.example.org' }, 'gpu-box');
    expect(api.updateServer).toHaveBeenCalledWith('gpu-box', { jump: 'hop.example.org' });
    expect(model.server('gpu-box')?.jump).toBe('hop.example.org');
    expect(model.servers.filter(s => s.name === 'gpu-box')).toHaveLength(1);
  });

  it('keeps the answer of a save, never what was typed (no password in the model)', async () => {
    let emitted = '';
    model.changed.connect(m => {
      emitted += JSON.stringify(m.servers);
    });
    await model.saveServer({ name: 'pw-box', host: 'h', auth: 'password', password: 'hunter2-secret' });
    expect(api.addServer.mock.calls[0][0].password).toBe('hunter2-secret'); // sent, once
    expect(model.server('pw-box')?.has_secret).toBe(true);
    expect(JSON.stringify(model.servers)).not.toContain('hunter2-secret');
    expect(emitted).not.toContain('hunter2-secret');
  });

  it('a refused save rejects with the server error and changes nothing', async () => {
    api.addServer.mockRejectedValueOnce(
      new RemoteAPIError({ status: 400, message: 'Bad port', reason: 'invalid', field: 'port' })
    );
    await expect(model.saveServer({ name: 'x', port: 0 })).rejects.toMatchObject({ field: 'port' });
    expect(model.servers).toEqual(SERVERS);
  });

  it('adds a profile: listed at once, profilesChanged fires, a refresh follows', async () => {
    const calls = api.listServers.mock.calls.length;
    const profile = await model.addProfile({ name: 'new', server: 'gpu-box', python: '/usr/bin/python3' });
    expect(profile.kernel_name).toBe('remote-new');
    expect(model.profile('new')).not.toBeNull();
    expect(profilesChanged).toBe(1);
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(api.listServers.mock.calls.length).toBe(calls + 1);
  });

  it('a refused profile rejects (ipykernel_missing) and nothing changes', async () => {
    api.addProfile.mockRejectedValueOnce(
      new RemoteAPIError({ status: 409, message: 'no ipykernel', reason: 'ipykernel_missing' })
    );
    await expect(model.addProfile({ name: 'new', server: 'gpu-box' })).rejects.toMatchObject({
      reason: 'ipykernel_missing'
    });
    expect(model.profile('new')).toBeNull();
    expect(profilesChanged).toBe(0);
  });

  it('removes a server with its profiles first, and says once that profiles changed', async () => {
    const ok = await model.removeServer('gpu-box', { withProfiles: true });
    expect(ok).toBe(true);
    expect(api.removeProfile.mock.calls.map(c => c[0])).toEqual(['torch', 'base']);
    expect(api.removeServer).toHaveBeenCalledWith('gpu-box');
    expect(api.removeProfile.mock.invocationCallOrder[1]).toBeLessThan(
      api.removeServer.mock.invocationCallOrder[0]
    );
    expect(profilesChanged).toBe(1);
  });

  it('a failed removal becomes the action error, whose Retry does it again', async () => {
    api.removeServer.mockRejectedValueOnce(
      new RemoteAPIError({
        status: 409,
        message: "Server 'cluster' is defined by an administrator.",
        reason: 'read_only',
        hint: 'Change it in the config.'
      })
    );
    const pending = model.removeServer('cluster');
    expect(model.isBusy('remove-server:cluster')).toBe(true);
    expect(await pending).toBe(false);
    expect(model.isBusy('remove-server:cluster')).toBe(false);
    const failure = model.actionError!;
    expect(failure.label).toBe('Remove server cluster');
    expect(failure.error).toMatchObject({ reason: 'read_only', hint: 'Change it in the config.' });
    failure.retry();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(api.removeServer).toHaveBeenCalledTimes(2);
    expect(model.actionError).toBeNull();
    expect(profilesChanged).toBe(0);
  });

  it('removes a profile (profilesChanged) and a host key', async () => {
    await model.removeProfile('torch');
    expect(model.profiles.map(p => p.name)).toEqual(['base']);
    expect(profilesChanged).toBe(1);
    api.listHostKeys.mockResolvedValueOnce([]);
    await model.removeHostKey('[127.0.0.1]:2222');
    expect(api.removeHostKey).toHaveBeenCalledWith('[127.0.0.1]:2222');
    expect(model.hostKeys).toEqual([]);
  });

  it('trusts an offered key and lists the keys again; a refusal rejects', async () => {
    const listed = api.listHostKeys.mock.calls.length;
    await model.trustHostKey('gpu-box', 'SHA256:abc');
    expect(api.trustHostKey).toHaveBeenCalledWith('gpu-box', 'SHA256:abc');
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(api.listHostKeys.mock.calls.length).toBe(listed + 1);
    api.trustHostKey.mockRejectedValueOnce(
      new RemoteAPIError({ status: 409, message: 'changed', reason: 'hostkey_changed' })
    );
    await expect(model.trustHostKey('gpu-box', 'SHA256:abc')).rejects.toMatchObject({
      reason: 'hostkey_changed'
    });
  });

  it('profilesChanged refreshes the kernelspecs until the link is disposed', async () => {
    const refreshSpecs = jest.fn(() => Promise.resolve());
    const link = refreshKernelspecsOnChange(model, { refreshSpecs });
    await model.removeProfile('torch');
    expect(refreshSpecs).toHaveBeenCalledTimes(1);
    link.dispose();
    await model.removeProfile('base');
    expect(refreshSpecs).toHaveBeenCalledTimes(1);
  });
});
