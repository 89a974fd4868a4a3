/**
 * RemoteModel: refresh, errors, signal, polling. The HTTP layer
 * (ServerConnection.makeRequest) is mocked; the model uses the real api.ts.
 */
import { ServerConnection } from '@jupyterlab/services';

import { RemoteModel } from '../model';
import { IServer } from '../tokens';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: jest.fn(() => ({ baseUrl: 'http://localhost:8888/' })),
    makeRequest: jest.fn()
  }
}));

const makeRequest = ServerConnection.makeRequest as jest.Mock;

const SERVERS: IServer[] = [
  {
    name: 'gpu-box',
    host: 'gpu.example.org',
    port: 22,
    user: 'ada',
    identity: null,
    auth: 'agent',
    jump: null,
    readonly: false,
    has_secret: false
  },
  {
    name: 'cluster',
    host: 'login.cluster.example.org',
    port: null,
    user: null,
    identity: null,
    auth: 'password',
    jump: 'bastion.example.org',
    readonly: true,
    has_secret: true
  }
];

function okServers(servers: IServer[] = SERVERS): void {
  makeRequest.mockResolvedValueOnce(new Response(JSON.stringify(servers), { status: 200 }));
}

function failWith(status: number, body: object): void {
  makeRequest.mockResolvedValueOnce(new Response(JSON.stringify(body), { status }));
}

describe('RemoteModel', () => {
  let model: RemoteModel;

  beforeEach(() => {
    makeRequest.mockReset();
    model = new RemoteModel();
  });

  afterEach(() => {
    model.dispose();
  });

  it('starts empty', () => {
    expect(model.servers).toEqual([]);
    expect(model.loading).toBe(false);
    expect(model.loaded).toBe(false);
    expect(model.error).toBeNull();
  });

  it('refresh success updates servers and emits changed', async () => {
    okServers();
    const states: Array<{ loading: boolean; count: number }> = [];
    model.changed.connect(m => {
      states.push({ loading: m.loading, count: m.servers.length });
    });
    await model.refresh();
    expect(model.servers).toEqual(SERVERS);
    expect(model.loading).toBe(false);
    expect(model.loaded).toBe(true);
    expect(model.error).toBeNull();
    // once when loading starts, once when it ends
    expect(states).toEqual([
      { loading: true, count: 0 },
      { loading: false, count: 2 }
    ]);
    expect(makeRequest.mock.calls[0][0]).toBe('http://localhost:8888/remote/servers');
  });

  it('refresh failure sets error (message, reason, hint) and does not reject', async () => {
    failWith(500, {
      message: 'Could not read the server store',
      reason: 'store-corrupt',
      hint: 'Fix or remove servers.json'
    });
    let emitted = 0;
    model.changed.connect(() => {
      emitted++;
    });
    await expect(model.refresh()).resolves.toBeUndefined();
    expect(model.error).toEqual({
      message: 'Could not read the server store',
      reason: 'store-corrupt',
      hint: 'Fix or remove servers.json'
    });
    expect(model.loading).toBe(false);
    expect(model.loaded).toBe(true);
    expect(emitted).toBe(2);
  });

  it('keeps the last servers on failure and clears the error on the next success', async () => {
    okServers();
    await model.refresh();
    makeRequest.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await model.refresh();
    expect(model.servers).toEqual(SERVERS);
    expect(model.error?.reason).toBe('network');
    okServers([SERVERS[0]]);
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.servers).toEqual([SERVERS[0]]);
  });

  it('shares one request between overlapping refreshes', async () => {
    okServers();
    await Promise.all([model.refresh(), model.refresh(), model.refresh()]);
    expect(makeRequest).toHaveBeenCalledTimes(1);
  });

  it('does nothing and emits nothing after dispose', async () => {
    model.dispose();
    expect(model.isDisposed).toBe(true);
    await model.refresh();
    expect(makeRequest).not.toHaveBeenCalled();
  });
});

describe('RemoteModel polling', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('fetches on start, every interval, and stops on stopPolling/dispose', async () => {
    const fetchServers = jest.fn(() => Promise.resolve(SERVERS));
    const model = new RemoteModel({ fetchServers, interval: 10000 });

    model.startPolling();
    expect(model.polling).toBe(true);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetchServers).toHaveBeenCalledTimes(1);
    expect(model.servers).toEqual(SERVERS);

    await jest.advanceTimersByTimeAsync(10000);
    expect(fetchServers).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(10000);
    expect(fetchServers).toHaveBeenCalledTimes(3);

    // starting twice does not double the polling
    model.startPolling();
    await jest.advanceTimersByTimeAsync(10000);
    expect(fetchServers).toHaveBeenCalledTimes(4);

    model.stopPolling();
    expect(model.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(fetchServers).toHaveBeenCalledTimes(4);

    model.startPolling();
    await jest.advanceTimersByTimeAsync(1);
    expect(fetchServers).toHaveBeenCalledTimes(5);
    model.dispose();
    expect(model.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(fetchServers).toHaveBeenCalledTimes(5);
  });

  it('backs off after failures and keeps the error', async () => {
    const fetchServers = jest.fn(() => Promise.reject(new Error('down')));
    const model = new RemoteModel({ fetchServers, interval: 10000 });
    model.startPolling();
    await jest.advanceTimersByTimeAsync(1);
    expect(fetchServers).toHaveBeenCalledTimes(1);
    expect(model.error?.message).toBe('down');
    // with back-off, fewer calls than one per interval over a long stretch
    await jest.advanceTimersByTimeAsync(200000);
    expect(fetchServers.mock.calls.length).toBeLessThan(20);
    expect(fetchServers.mock.calls.length).toBeGreaterThan(1);
    model.dispose();
  });
});
