/**
 * SessionsModel on its own: the events websocket (hello / session / progress
 * with the attaching stage / notice), reconnect with back-off, sessions
 * polling while it is down, Stop/Retry/Dismiss, kernel activity, the kernels
 * on a server and forwards; and the notices as notifications.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { RemoteAPIError } from '../api';
import { EVENTS_RETRY_FIRST_MS, EVENTS_RETRY_MAX_MS } from '../sessions/link';
import { SessionsModel } from '../sessions/model';
import { noticeText, notifyNotices } from '../sessions/notices';
import { INoticeEvent } from '../tokens';
import { FakeSocket, fakeSessionsAPI, session } from './fixtures';

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

describe('SessionsModel through the real api/', () => {
  it('lists GET remote/sessions and keeps a failure as its error', async () => {
    makeRequest.mockReset();
    makeRequest.mockResolvedValueOnce(new Response(JSON.stringify([session('k1', 'running')]), { status: 200 }));
    const model = new SessionsModel({ createSocket: null });
    await model.refresh();
    expect(makeRequest.mock.calls[0][0]).toBe('http://localhost:8888/remote/sessions');
    expect(model.loaded).toBe(true);
    expect(model.sessions.map(s => s.id)).toEqual(['k1']);
    makeRequest.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await model.refresh();
    expect(model.error?.reason).toBe('network');
    expect(model.sessions.map(s => s.id)).toEqual(['k1']);
    model.dispose();
    await model.refresh();
    expect(makeRequest).toHaveBeenCalledTimes(2);
  });
});

describe('SessionsModel events', () => {
  let sockets: FakeSocket[];
  let api: ReturnType<typeof fakeSessionsAPI>;
  let model: SessionsModel;

  function latest(): FakeSocket {
    return sockets[sockets.length - 1];
  }

  beforeEach(() => {
    jest.useFakeTimers();
    sockets = [];
    api = fakeSessionsAPI();
    model = new SessionsModel({
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
    expect(model.eventsState).toBe('down');
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
    const events: string[] = [];
    model.event.connect((_, event) => events.push(event.type));
    latest().send({ type: 'hello', sessions: [session('k1', 'running'), session('k2', 'running')] });
    expect(model.loaded).toBe(true);
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
    expect(events).toEqual(['session', 'session']); // the greeting is not an event
  });

  it('ignores malformed and unknown messages', () => {
    model.connectEvents();
    latest().open();
    latest().send('not json');
    latest().send({ type: 'nope' });
    latest().send({ type: 'session' });
    latest().send({ type: 'hello', sessions: 'x' });
    latest().send({ type: 'progress', stage: 'connecting' });
    latest().send({ type: 'notice', message: 'about no kernel' });
    expect(model.sessions).toEqual([]);
    expect(model.loaded).toBe(false);
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

  it('attaching (to a kernel left running) is a stage like the others', () => {
    model.handleEvent({ type: 'hello', sessions: [] });
    model.handleEvent({ type: 'progress', kernel_id: 'old1', server: 'gpu-box', stage: 'connecting', message: '' });
    model.handleEvent({
      type: 'progress',
      kernel_id: 'old1',
      server: 'gpu-box',
      stage: 'attaching',
      message: 'to the running kernel, pid 4242'
    });
    expect(model.sessions[0]).toMatchObject({ id: 'old1', state: 'connecting' });
    expect(model.progressOf('old1')).toMatchObject({ stage: 'attaching', message: 'to the running kernel, pid 4242' });
    model.handleEvent({ type: 'progress', kernel_id: 'old1', server: 'gpu-box', stage: 'forwarding', message: '' });
    expect(model.progressOf('old1')?.stage).toBe('forwarding');
    model.handleEvent({ type: 'session', session: session('old1', 'running') });
    expect(model.progressOf('old1')).toBeNull();
  });

  it('a notice is kept for its kernel (the latest few), signalled, and can be dismissed', () => {
    model.handleEvent({ type: 'hello', sessions: [session('k1', 'running')] });
    const noticed: INoticeEvent[] = [];
    model.noticed.connect((_, notice) => noticed.push(notice));
    let emitted = 0;
    model.changed.connect(() => emitted++);
    model.handleEvent({
      type: 'notice',
      kernel_id: 'k1',
      server: 'gpu-box',
      message: '120 output messages were dropped while the link was down',
      time: 4990
    });
    expect(emitted).toBe(1);
    expect(model.noticesOf('k1')).toEqual([
      {
        type: 'notice',
        kernel_id: 'k1',
        server: 'gpu-box',
        message: '120 output messages were dropped while the link was down',
        time: 4990
      }
    ]);
    expect(noticed.map(n => n.message)).toEqual(['120 output messages were dropped while the link was down']);
    // no time: the time of receipt
    model.handleEvent({ type: 'notice', kernel_id: 'k1', server: 'gpu-box', message: 'again' });
    expect(model.noticesOf('k1')[1].time).toBe(5000);
    for (let i = 0; i < 10; i++) {
      model.handleEvent({ type: 'notice', kernel_id: 'k1', server: 'gpu-box', message: `n${i}` });
    }
    expect(model.noticesOf('k1').map(n => n.message)).toEqual(['n5', 'n6', 'n7', 'n8', 'n9']);
    expect(model.noticesOf('k2')).toEqual([]);
    model.dismissNotices('k1');
    expect(model.noticesOf('k1')).toEqual([]);
  });

  it("a session's notices go when its card goes", async () => {
    model.handleEvent({ type: 'hello', sessions: [session('k1', 'running'), session('k2', 'running')] });
    model.handleEvent({ type: 'notice', kernel_id: 'k1', server: 'gpu-box', message: 'dropped' });
    model.handleEvent({ type: 'notice', kernel_id: 'k2', server: 'gpu-box', message: 'dropped' });
    model.handleEvent({ type: 'hello', sessions: [session('k2', 'running')] });
    expect(model.noticesOf('k1')).toEqual([]);
    await model.stopSession('k2');
    expect(model.noticesOf('k2')).toHaveLength(1);
    model.dismissSession('k2');
    expect(model.noticesOf('k2')).toEqual([]);
  });

  it('a start that went quiet for minutes is dropped by the next listing', () => {
    let now = 5_000_000;
    const quiet = new SessionsModel({ api, createSocket: null, now: () => now });
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
    expect(model.error?.reason).toBe('network');
    await jest.advanceTimersByTimeAsync(EVENTS_RETRY_FIRST_MS);
    latest().open();
    latest().send({ type: 'hello', sessions: [] });
    expect(model.error).toBeNull();
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
    model.connectEvents();
    expect(sockets).toHaveLength(2);
  });

  it('works without a websocket: polling only', async () => {
    const polled = new SessionsModel({ api, createSocket: null, sessionsInterval: 10000 });
    polled.connectEvents();
    expect(polled.eventsState).toBe('down');
    await jest.advanceTimersByTimeAsync(20000);
    expect(api.listSessions).toHaveBeenCalledTimes(3);
    polled.dispose();
  });
});

describe('SessionsModel actions', () => {
  let api: ReturnType<typeof fakeSessionsAPI>;
  let model: SessionsModel;

  beforeEach(() => {
    api = fakeSessionsAPI();
    model = new SessionsModel({ api, createSocket: null });
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
    expect(model.sessions[0]).toMatchObject({ id: 'k1', state: 'stopped', reason: 'stopped by you' });
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
    expect(model.errorOf('k1')).toMatchObject({ message: "No session 'k1'.", status: 404 });
  });

  it('Retry posts and applies the answer; running clears the error', async () => {
    api.retrySession.mockRejectedValueOnce(new RemoteAPIError({ status: 502, message: 'still down' }));
    await model.retrySession('k2');
    expect(model.errorOf('k2')?.message).toBe('still down');
    await model.retrySession('k2');
    expect(api.retrySession).toHaveBeenCalledWith('k2');
    expect(model.errorOf('k2')).toBeNull();
    expect(model.sessions[1].state).toBe('reconnecting');
    model.handleEvent({ type: 'session', session: session('k2', 'running') });
    expect(model.sessions[1].state).toBe('running');
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
    expect(api.listSessions).toHaveBeenCalled(); // the attached kernel's card comes from the listing
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
    model.clearActionError();
    expect(model.actionError).toBeNull();
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
    await model.openForward({ server: 'gpu-box', remote_port: 6007 });
    expect(model.forwardError('gpu-box')).toBeNull();
  });
});

describe('SessionsModel kernel activity', () => {
  it("reads JupyterLab's kernels and changes when they do", () => {
    const owner = {};
    const runningChanged = new Signal<object, void>(owner);
    let running = [{ id: 'k1', execution_state: 'busy', last_activity: '2026-01-01T00:00:00Z' }];
    const model = new SessionsModel({
      api: fakeSessionsAPI(),
      createSocket: null,
      kernels: { running: () => running[Symbol.iterator](), runningChanged }
    });
    let emitted = 0;
    model.changed.connect(() => emitted++);
    runningChanged.emit(undefined);
    expect(emitted).toBe(0); // no card: nothing to redraw
    model.handleEvent({ type: 'hello', sessions: [session('k1', 'running'), session('k2', 'running')] });
    expect(model.activityOf(model.sessions[0])).toEqual({
      execution_state: 'busy',
      last_activity: '2026-01-01T00:00:00Z'
    });
    expect(model.activityOf(model.sessions[1])).toBeNull();
    running = [];
    emitted = 0;
    runningChanged.emit(undefined);
    expect(emitted).toBe(1);
    expect(model.activityOf(model.sessions[0])).toBeNull();
    model.dispose();
    runningChanged.emit(undefined);
    expect(emitted).toBe(1);
  });
});

describe('notices as notifications', () => {
  it('says which kernel on which server, and what happened', () => {
    const notice: INoticeEvent = { type: 'notice', kernel_id: 'abcdef123456', server: 'gpu-box', message: 'dropped' };
    expect(noticeText(notice, session('abcdef123456', 'running'))).toBe('torch on gpu-box: dropped');
    expect(noticeText(notice, null)).toBe('Kernel abcdef12 on gpu-box: dropped');
  });

  it('notifies each notice until disposed', () => {
    const model = new SessionsModel({ api: fakeSessionsAPI(), createSocket: null });
    model.handleEvent({ type: 'hello', sessions: [session('k1', 'running')] });
    const notify = jest.fn();
    const link = notifyNotices(model, notify);
    model.handleEvent({ type: 'notice', kernel_id: 'k1', server: 'gpu-box', message: '5 messages dropped' });
    expect(notify).toHaveBeenCalledWith('torch on gpu-box: 5 messages dropped');
    link.dispose();
    model.handleEvent({ type: 'notice', kernel_id: 'k1', server: 'gpu-box', message: 'more' });
    expect(notify).toHaveBeenCalledTimes(1);
    model.dispose();
  });
});
