/**
 * RemoteModel: refresh (servers, profiles, host keys), errors, polling, the
 * events websocket (hello / session / progress, reconnect with back-off,
 * sessions polling while it is down) and the session/removal actions.
 */
import { ServerConnection } from '@jupyterlab/services';

import { RemoteAPIError } from '../api';
import {
  EVENTS_RETRY_FIRST_MS,
  EVENTS_RETRY_MAX_MS,
  IWebSocketLike,
  RemoteModel
} from '../model';
import { IHostKey, IProfile, IServer, ISession } from '../tokens';

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

const SERVERS: IServer[] = [
  {
    name: 'gpu-box',
    host: 'gpu.example.org',
    port: 22,
    user: 'ada',
    identity: null,
    auth: 'agent',
    jump: null,
    channel_transport: 'unix',
    warnings: [],
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
    channel_transport: 'unix',
    warnings: [],
    readonly: true,
    has_secret: true
  }
];

const PROFILES: IProfile[] = [
  {
    name: 'torch',
    server: 'gpu-box',
    python: '/opt/conda/envs/torch/bin/python',
    kernelspec: null,
    cwd: null,
    env: {},
    idle_timeout: 0,
    display_name: 'Python 3.11 · torch — gpu-box',
    readonly: false,
    kernel_name: 'remote-torch'
  },
  {
    name: 'base',
    server: 'gpu-box',
    python: '/usr/bin/python3',
    kernelspec: null,
    cwd: '/data',
    env: {},
    idle_timeout: 3600,
    display_name: null,
    readonly: false,
    kernel_name: 'remote-base'
  }
];

const KEYS: IHostKey[] = [
  {
    host_id: '[127.0.0.1]:2222',
    key_type: 'ssh-ed25519',
    fingerprint: 'SHA256:abc',
    added: '2026-01-01T00:00:00+00:00',
    source: 'jupyter-remote'
  }
];

function session(id: string, state: string, extra: Partial<ISession> = {}): ISession {
  return {
    id,
    kind: 'kernel',
    kernel_id: id,
    server: 'gpu-box',
    profile: 'torch',
    python: '/opt/conda/envs/torch/bin/python',
    state,
    reason: '',
    started: 1000,
    reconnects: 0,
    local_ports: [],
    ...extra
  };
}

/** A fake websocket the test drives. */
class FakeSocket implements IWebSocketLike {
  constructor(readonly url: string) {}
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.({});
  }
  send(message: unknown): void {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  drop(): void {
    this.onerror?.({});
    this.onclose?.({});
  }
}

function fakeAPI(overrides: Partial<RemoteModel.IAPI> = {}): jest.Mocked<RemoteModel.IAPI> {
  return {
    listServers: jest.fn(() => Promise.resolve(SERVERS)),
    listProfiles: jest.fn(() => Promise.resolve(PROFILES)),
    listHostKeys: jest.fn(() => Promise.resolve(KEYS)),
    listSessions: jest.fn(() => Promise.resolve([] as ISession[])),
    removeServer: jest.fn(() => Promise.resolve()),
    removeProfile: jest.fn(() => Promise.resolve()),
    removeHostKey: jest.fn(() => Promise.resolve(1)),
    stopSession: jest.fn(() => Promise.resolve()),
    retrySession: jest.fn((id: string) => Promise.resolve(session(id, 'reconnecting'))),
    listRemoteKernels: jest.fn(() =>
      Promise.resolve([{ kernel_id: 'old1', state: 'running', profile: 'torch' }])
    ),
    stopRemoteKernel: jest.fn(() => Promise.resolve()),
    attachRemoteKernel: jest.fn((_s: string, id: string) => Promise.resolve({ id })),
    openForward: jest.fn((input: { server: string; remote_port: number }) =>
      Promise.resolve({
        ...session('f1', 'running', { kind: 'forward', server: input.server, profile: '' }),
        remote_port: input.remote_port,
        local_port: 40000,
        url: '/remote/forward/f1/'
      })
    ),
    ...overrides
  } as jest.Mocked<RemoteModel.IAPI>;
}

describe('RemoteModel refresh (through the real api.ts)', () => {
  let model: RemoteModel;

  beforeEach(() => {
    makeRequest.mockReset();
    model = new RemoteModel({ createSocket: null });
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
    expect(model.sessions).toEqual([]);
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
        {
          message: 'Could not read the server store',
          reason: 'store-corrupt',
          hint: 'Fix or remove servers.json'
        }
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
    await model.refreshSessions();
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
    const api = fakeAPI();
    const model = new RemoteModel({ api, interval: 10000, createSocket: null });

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
    const fetchServers = jest.fn(() => Promise.reject(new Error('down')));
    const model = new RemoteModel({
      api: fakeAPI(),
      fetchServers,
      interval: 10000,
      createSocket: null
    });
    model.startPolling();
    await jest.advanceTimersByTimeAsync(1);
    expect(fetchServers).toHaveBeenCalledTimes(1);
    expect(model.error?.message).toBe('down');
    await jest.advanceTimersByTimeAsync(200000);
    expect(fetchServers.mock.calls.length).toBeLessThan(20);
    expect(fetchServers.mock.calls.length).toBeGreaterThan(1);
    model.dispose();
  });
});

describe('RemoteModel events', () => {
  let sockets: FakeSocket[];
  let api: jest.Mocked<RemoteModel.IAPI>;
  let model: RemoteModel;

  function latest(): FakeSocket {
    return sockets[sockets.length - 1];
  }

  beforeEach(() => {
    jest.useFakeTimers();
    sockets = [];
    api = fakeAPI();
    model = new RemoteModel({
      api,
      createSocket: url => {
        const socket = new FakeSocket(url);
        sockets.push(socket);
        return socket;
      },
      sessionsInterval: 10000,
      now: () => 5_000_000
    });
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('opens ws(s)://…/remote/events with the token, once', () => {
    model.connectEvents();
    model.connectEvents();
    expect(sockets).toHaveLength(1);
    expect(latest().url).toBe('ws://localhost:8888/remote/events?token=secret');
    expect(model.eventsState).toBe('connecting');
    latest().open();
    expect(model.eventsState).toBe('live');
  });

  it('hello replaces the sessions; session events update and add cards', () => {
    model.connectEvents();
    latest().open();
    let emitted = 0;
    model.changed.connect(() => emitted++);
    latest().send({ type: 'hello', sessions: [session('k1', 'running'), session('k2', 'running')] });
    expect(model.sessionsLoaded).toBe(true);
    expect(model.sessions.map(s => [s.id, s.state])).toEqual([
      ['k1', 'running'],
      ['k2', 'running']
    ]);
    latest().send({
      type: 'session',
      session: session('k1', 'reconnecting', { reason: 'the SSH connection was lost' })
    });
    latest().send({ type: 'session', session: session('k3', 'running') });
    expect(model.sessions.map(s => [s.id, s.state])).toEqual([
      ['k1', 'reconnecting'],
      ['k2', 'running'],
      ['k3', 'running']
    ]);
    expect(model.sessions[0].reason).toBe('the SSH connection was lost');
    expect(emitted).toBe(3);
  });

  it('ignores malformed and unknown messages', () => {
    model.connectEvents();
    latest().open();
    latest().send('not json');
    latest().send({ type: 'nope' });
    latest().send({ type: 'session' });
    latest().send({ type: 'hello', sessions: 'x' });
    latest().send({ type: 'progress', stage: 'connecting' });
    expect(model.sessions).toEqual([]);
  });

  it('progress makes a connecting card until the session runs', () => {
    model.connectEvents();
    latest().open();
    latest().send({ type: 'hello', sessions: [] });
    latest().send({
      type: 'progress',
      kernel_id: 'k9',
      server: 'gpu-box',
      stage: 'connecting',
      message: 'to server gpu-box'
    });
    expect(model.sessions).toHaveLength(1);
    expect(model.sessions[0]).toMatchObject({ id: 'k9', state: 'connecting', server: 'gpu-box' });
    expect(model.sessions[0].started).toBe(5000);
    expect(model.progressOf('k9')?.stage).toBe('connecting');
    latest().send({
      type: 'progress',
      kernel_id: 'k9',
      server: 'gpu-box',
      stage: 'starting kernel',
      message: '/usr/bin/python3',
      time: 5001
    });
    expect(model.progressOf('k9')).toMatchObject({ stage: 'starting kernel', time: 5001 });
    // a sessions poll that does not list it yet keeps the starting card
    latest().send({ type: 'hello', sessions: [] });
    expect(model.sessions.map(s => s.id)).toEqual(['k9']);
    latest().send({ type: 'session', session: session('k9', 'running') });
    expect(model.progressOf('k9')).toBeNull();
    expect(model.sessions[0].state).toBe('running');
    // a late "ready" does not bring the progress back
    latest().send({ type: 'progress', kernel_id: 'k9', server: 'gpu-box', stage: 'ready', message: '' });
    expect(model.progressOf('k9')).toBeNull();
  });

  it('a start that went quiet for minutes is dropped by the next listing', () => {
    let now = 5_000_000;
    const quiet = new RemoteModel({ api, createSocket: null, now: () => now });
    quiet.handleEvent({ type: 'progress', kernel_id: 'k8', server: 'gpu-box', stage: 'connecting', message: '' });
    quiet.handleEvent({ type: 'hello', sessions: [] });
    expect(quiet.sessions.map(s => s.id)).toEqual(['k8']);
    now += 181_000;
    quiet.handleEvent({ type: 'hello', sessions: [] });
    expect(quiet.sessions).toEqual([]);
    expect(quiet.progressOf('k8')).toBeNull();
    quiet.dispose();
  });

  it('polls sessions every 10 s while the websocket is down and reconnects with back-off', async () => {
    api.listSessions.mockResolvedValue([session('k1', 'disconnected', { reason: 'auth failed' })]);
    model.connectEvents();
    latest().open();
    expect(api.listSessions).not.toHaveBeenCalled();

    latest().drop();
    expect(model.eventsState).toBe('down');
    await jest.advanceTimersByTimeAsync(0);
    expect(api.listSessions).toHaveBeenCalledTimes(1); // at once
    expect(model.sessions[0]).toMatchObject({ id: 'k1', state: 'disconnected' });

    // reconnect attempts: 1 s, 2 s, 4 s, ... (each fails at once)
    expect(sockets).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    expect(sockets).toHaveLength(2);
    latest().drop();
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    expect(sockets).toHaveLength(2); // not yet: 2 s now
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    expect(sockets).toHaveLength(3);
    latest().drop();

    await jest.advanceTimersByTimeAsync(10000 - 3 * EVENTS_RETRY_FIRST_MS);
    expect(api.listSessions).toHaveBeenCalledTimes(2); // every 10 s

    // back up: the polling stops, hello takes over
    await jest.advanceTimersByTimeAsync(4 * EVENTS_RETRY_FIRST_MS);
    expect(sockets).toHaveLength(4);
    latest().open();
    expect(model.eventsState).toBe('live');
    const calls = api.listSessions.mock.calls.length;
    await jest.advanceTimersByTimeAsync(60000);
    expect(api.listSessions.mock.calls.length).toBe(calls);
    expect(sockets).toHaveLength(4);
  });

  it('caps the back-off and resets it after a successful open', async () => {
    model.connectEvents();
    for (let i = 0; i < 10; i++) {
      latest().drop();
      await jest.advanceTimersByTimeAsync(EVENTS_RETRY_MAX_MS);
    }
    const count = sockets.length;
    latest().drop();
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_MAX_MS - 1);
    expect(sockets).toHaveLength(count);
    await jest.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(count + 1);
    latest().open();
    latest().drop();
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    expect(sockets).toHaveLength(count + 2);
  });

  it('a sessions poll failure is shown, and cleared by the next hello', async () => {
    api.listSessions.mockRejectedValue(
      new RemoteAPIError({ status: 0, message: 'Could not reach', reason: 'network', hint: 'h' })
    );
    model.connectEvents();
    latest().drop();
    await jest.advanceTimersByTimeAsync(0);
    expect(model.sessionsError?.reason).toBe('network');
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    latest().open();
    latest().send({ type: 'hello', sessions: [] });
    expect(model.sessionsError).toBeNull();
  });

  it('disconnectEvents and dispose close the socket and stop every timer', async () => {
    model.connectEvents();
    const socket = latest();
    socket.drop();
    await jest.advanceTimersByTimeAsync(0);
    model.disconnectEvents();
    const polls = api.listSessions.mock.calls.length;
    await jest.advanceTimersByTimeAsync(120000);
    expect(api.listSessions.mock.calls.length).toBe(polls);
    expect(sockets).toHaveLength(1);

    model.connectEvents();
    const second = latest();
    model.dispose();
    expect(second.closed).toBe(true);
    second.send({ type: 'hello', sessions: [session('k1', 'running')] });
    expect(model.sessions).toEqual([]);
  });

  it('works without a websocket: polling only', async () => {
    const polled = new RemoteModel({ api, createSocket: null, sessionsInterval: 10000 });
    polled.connectEvents();
    expect(polled.eventsState).toBe('down');
    await jest.advanceTimersByTimeAsync(20000);
    expect(api.listSessions).toHaveBeenCalledTimes(3);
    polled.dispose();
  });
});

describe('RemoteModel actions', () => {
  let api: jest.Mocked<RemoteModel.IAPI>;
  let model: RemoteModel;

  beforeEach(async () => {
    api = fakeAPI();
    model = new RemoteModel({ api, createSocket: null });
    await model.refresh();
    model.handleEvent({
      type: 'hello',
      sessions: [session('k1', 'running'), session('k2', 'disconnected', { reason: 'key changed' })]
    });
  });

  afterEach(() => {
    model.dispose();
  });

  it('Stop calls DELETE and shows the card as stopped until dismissed', async () => {
    const pending = model.stopSession('k1');
    expect(model.isBusy('stop:k1')).toBe(true);
    await pending;
    expect(api.stopSession).toHaveBeenCalledWith('k1');
    expect(model.isBusy('stop:k1')).toBe(false);
    expect(model.sessions[0]).toMatchObject({ id: 'k1', state: 'stopped' });
    // the server no longer lists it: the stopped card stays...
    model.handleEvent({ type: 'hello', sessions: [session('k2', 'disconnected')] });
    expect(model.sessions.map(s => s.id)).toEqual(['k1', 'k2']);
    // ...until dismissed
    model.dismissSession('k1');
    expect(model.sessions.map(s => s.id)).toEqual(['k2']);
    // only stopped cards can be dismissed
    model.dismissSession('k2');
    expect(model.sessions.map(s => s.id)).toEqual(['k2']);
  });

  it('a failed Stop keeps the card and shows the error on it', async () => {
    api.stopSession.mockRejectedValueOnce(
      new RemoteAPIError({ status: 404, message: "No session 'k1'.", reason: 'not_found' })
    );
    await model.stopSession('k1');
    expect(model.sessions[0].state).toBe('running');
    expect(model.sessionError('k1')).toMatchObject({ message: "No session 'k1'.", status: 404 });
  });

  it('Retry posts and applies the answer; running clears the error', async () => {
    await model.retrySession('k2');
    expect(api.retrySession).toHaveBeenCalledWith('k2');
    expect(model.sessions[1].state).toBe('reconnecting');
    model.handleEvent({ type: 'session', session: session('k2', 'running') });
    expect(model.sessions[1].state).toBe('running');
  });

  it('removes a server with its profiles first', async () => {
    const ok = await model.removeServer('gpu-box', { withProfiles: true });
    expect(ok).toBe(true);
    expect(api.removeProfile.mock.calls.map(c => c[0])).toEqual(['torch', 'base']);
    expect(api.removeServer).toHaveBeenCalledWith('gpu-box');
    expect(api.removeProfile.mock.invocationCallOrder[1]).toBeLessThan(
      api.removeServer.mock.invocationCallOrder[0]
    );
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
    expect(await model.removeServer('cluster')).toBe(false);
    const failure = model.actionError!;
    expect(failure.label).toBe('Remove server cluster');
    expect(failure.error).toMatchObject({ reason: 'read_only', hint: 'Change it in the config.' });
    failure.retry();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(api.removeServer).toHaveBeenCalledTimes(2);
    expect(model.actionError).toBeNull();
    model.clearActionError();
  });

  it('removes a profile and a host key', async () => {
    await model.removeProfile('torch');
    expect(model.profiles.map(p => p.name)).toEqual(['base']);
    api.listHostKeys.mockResolvedValueOnce([]);
    await model.removeHostKey('[127.0.0.1]:2222');
    expect(api.removeHostKey).toHaveBeenCalledWith('[127.0.0.1]:2222');
    expect(model.hostKeys).toEqual([]);
  });

  it('lists the kernels on a server, attaches one and stops another', async () => {
    const pending = model.loadRemoteKernels('gpu-box');
    expect(model.remoteKernelsOf('gpu-box')).toMatchObject({ loading: true, loaded: false });
    await pending;
    expect(model.remoteKernelsOf('gpu-box')).toMatchObject({
      loading: false,
      loaded: true,
      error: null,
      kernels: [{ kernel_id: 'old1' }]
    });
    await expect(model.attachKernel('gpu-box', 'old1')).resolves.toBe('old1');
    expect(api.attachRemoteKernel).toHaveBeenCalledWith('gpu-box', 'old1');
    await expect(model.stopRemoteKernel('gpu-box', 'old1')).resolves.toBe(true);
    expect(api.stopRemoteKernel).toHaveBeenCalledWith('gpu-box', 'old1');
    expect(model.remoteKernelsOf('nowhere')).toBeNull();
  });

  it('a failed listing keeps its error; a failed attach is the action error', async () => {
    api.listRemoteKernels.mockRejectedValueOnce(
      new RemoteAPIError({ status: 502, message: 'unreachable', reason: 'unreachable', hint: 'h' })
    );
    await model.loadRemoteKernels('gpu-box');
    expect(model.remoteKernelsOf('gpu-box')?.error?.reason).toBe('unreachable');
    api.attachRemoteKernel.mockRejectedValueOnce(
      new RemoteAPIError({ status: 404, message: 'No running kernel old1 on gpu-box.', reason: 'not_found' })
    );
    await expect(model.attachKernel('gpu-box', 'old1')).resolves.toBeNull();
    expect(model.actionError?.label).toBe('Attach kernel old1');
  });

  it('opens a forward: its card appears; errors stay with the server', async () => {
    const forward = await model.openForward({ server: 'gpu-box', remote_port: 6006 });
    expect(forward?.url).toBe('/remote/forward/f1/');
    expect(model.sessions.find(s => s.id === 'f1')).toMatchObject({ kind: 'forward', remote_port: 6006 });
    api.openForward.mockRejectedValueOnce(
      new RemoteAPIError({ status: 409, message: 'port in use', reason: 'conflict', field: 'local_port' })
    );
    await expect(model.openForward({ server: 'gpu-box', remote_port: 6006, local_port: 80 })).resolves.toBeNull();
    expect(model.forwardError('gpu-box')?.message).toBe('port in use');
    expect(model.isBusy('forward:gpu-box')).toBe(false);
  });
});
