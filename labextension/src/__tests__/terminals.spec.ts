/**
 * Remote terminals: the websocket connection JupyterLab's terminal widget is
 * given (terminado's protocol, setup first, queued input, reconnect with the
 * screen replayed, disconnect ends it, shutdown closes it for good), the URLs
 * and REST calls, and the launcher/palette items kept in step with the servers.
 */
import { ServerConnection } from '@jupyterlab/services';

import { closeTerminal, openTerminal, terminalSocketURL } from '../api/terminals';
import { RemoteTerminalConnection, RECONNECT_LIMIT } from '../terminals/connection';
import { TerminalItems, terminalLabel, terminalServers } from '../terminals/items';
import { CommandIDs, IServer } from '../tokens';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: jest.fn(() => ({
      baseUrl: 'http://localhost:8888/',
      wsUrl: 'ws://localhost:8888/',
      token: 'secret',
      appendToken: true
    })),
    makeRequest: jest.fn()
  }
}));

const makeRequest = ServerConnection.makeRequest as jest.Mock;

/** A websocket the test plays the server of. */
class ServerSide {
  static all: ServerSide[] = [];
  constructor(readonly url: string) {
    ServerSide.all.push(this);
  }
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  sent: unknown[] = [];
  closed = false;
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.closed = true;
  }
  say(...message: unknown[]): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006): void {
    this.onclose?.({ code });
  }
}

function connect(close = jest.fn(() => Promise.resolve())): {
  conn: RemoteTerminalConnection;
  close: jest.Mock;
  seen: Array<{ type: string; content?: unknown[] }>;
} {
  const settings = {
    ...ServerConnection.makeSettings(),
    WebSocket: ServerSide as unknown as typeof WebSocket
  } as ServerConnection.ISettings;
  const conn = new RemoteTerminalConnection({
    server: 'gpu box',
    id: 'term-0123456789ab',
    persistent: true,
    serverSettings: settings,
    close
  });
  const seen: Array<{ type: string; content?: unknown[] }> = [];
  conn.messageReceived.connect((_, msg) => seen.push({ type: msg.type, content: msg.content as unknown[] }));
  return { conn, close, seen };
}

function latest(): ServerSide {
  return ServerSide.all[ServerSide.all.length - 1];
}

beforeEach(() => {
  ServerSide.all = [];
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('RemoteTerminalConnection', () => {
  it('opens our websocket and is connected only after setup', () => {
    const { conn, seen } = connect();
    expect(latest().url).toBe(
      'ws://localhost:8888/remote/servers/gpu%20box/terminals/term-0123456789ab/websocket?token=secret'
    );
    expect(conn.name).toBe('term-0123456789ab');
    expect(conn.model).toEqual({ name: 'term-0123456789ab' });
    expect(conn.persistent).toBe(true);
    expect(conn.connectionStatus).toBe('connecting');
    conn.send({ type: 'stdin', content: ['ls\r'] });
    conn.send({ type: 'set_size', content: [10, 20, 100, 200] });
    conn.send({ type: 'set_size', content: [30, 90, 300, 900] });
    expect(latest().sent).toEqual([]);
    latest().say('stdout', 'before setup is ignored');
    latest().say('setup', {});
    expect(conn.connectionStatus).toBe('connected');
    // only the latest size, then the keystrokes, in order
    expect(latest().sent).toEqual([
      ['set_size', 30, 90, 300, 900],
      ['stdin', 'ls\r']
    ]);
    latest().say('stdout', 'hello');
    expect(seen).toEqual([{ type: 'stdout', content: ['hello'] }]);
    conn.send({ type: 'stdin', content: ['x'] });
    expect(latest().sent[2]).toEqual(['stdin', 'x']);
    conn.dispose();
  });

  it('reconnects when the websocket drops and gets the screen again', () => {
    const { conn, seen } = connect();
    latest().say('setup', {});
    const first = latest();
    first.drop();
    expect(conn.connectionStatus).toBe('connecting');
    conn.send({ type: 'stdin', content: ['typed while away'] });
    jest.advanceTimersByTime(0);
    expect(ServerSide.all.length).toBe(2);
    latest().say('setup', {});
    latest().say('stdout', 'the screen so far');
    expect(latest().sent).toEqual([['stdin', 'typed while away']]);
    expect(seen.at(-1)).toEqual({ type: 'stdout', content: ['the screen so far'] });
    expect(conn.isDisposed).toBe(false);
    conn.dispose();
    expect(latest().closed).toBe(true);
  });

  it('gives up after RECONNECT_LIMIT tries', () => {
    const { conn } = connect();
    for (let i = 0; i < RECONNECT_LIMIT; i++) {
      latest().drop();
      jest.advanceTimersByTime(10_000);
    }
    latest().drop();
    expect(conn.connectionStatus).toBe('disconnected');
    expect(ServerSide.all.length).toBe(RECONNECT_LIMIT + 1);
    conn.dispose();
  });

  it('ends with the server\'s disconnect (the shell exited), as terminado does', () => {
    const { conn, seen } = connect();
    let disposed = 0;
    conn.disposed.connect(() => (disposed += 1));
    latest().say('setup', {});
    latest().say('disconnect', 1);
    expect(seen).toEqual([{ type: 'disconnect', content: [1] }]);
    expect(conn.isDisposed).toBe(true);
    expect(disposed).toBe(1);
    latest().drop(1000);
    expect(ServerSide.all.length).toBe(1); // no reconnect after the end
  });

  it('shutdown closes the terminal for good, then disposes', async () => {
    const { conn, close } = connect();
    await conn.shutdown();
    expect(close).toHaveBeenCalledWith('gpu box', 'term-0123456789ab');
    expect(conn.isDisposed).toBe(true);
  });

  it('ignores junk from the socket', () => {
    const { conn, seen } = connect();
    latest().say('setup', {});
    latest().onmessage?.({ data: 'not json' });
    latest().onmessage?.({ data: '{"a": 1}' });
    latest().onmessage?.({ data: '[5]' });
    expect(seen).toEqual([]);
    expect(conn.connectionStatus).toBe('connected');
    conn.dispose();
  });
});

describe('terminal REST calls', () => {
  it('opens and closes with the right methods and paths', async () => {
    makeRequest.mockReset();
    makeRequest.mockResolvedValueOnce(
      new Response(JSON.stringify({ id: 'term-1', kind: 'terminal' }), { status: 201 })
    );
    const model = await openTerminal('gpu', { persistent: true });
    expect(model.id).toBe('term-1');
    const [url, init] = makeRequest.mock.calls[0];
    expect(url).toBe('http://localhost:8888/remote/servers/gpu/terminals');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body)).toEqual({ persistent: true });
    makeRequest.mockResolvedValueOnce(new Response(null, { status: 204 }));
    await closeTerminal('gpu', 'term-1');
    expect(makeRequest.mock.calls[1][0]).toBe('http://localhost:8888/remote/servers/gpu/terminals/term-1');
    expect(makeRequest.mock.calls[1][1].method).toBe('DELETE');
  });

  it('puts the token in the websocket URL only when JupyterLab appends tokens', () => {
    const base = { wsUrl: 'ws://h/b/', token: 't' };
    expect(terminalSocketURL('s', 'term-1', { ...base, appendToken: false })).toBe(
      'ws://h/b/remote/servers/s/terminals/term-1/websocket'
    );
    expect(terminalSocketURL('s', 'term-1', { ...base, appendToken: true })).toBe(
      'ws://h/b/remote/servers/s/terminals/term-1/websocket?token=t'
    );
  });
});

describe('TerminalItems', () => {
  function servers(...names: string[]): IServer[] {
    return names.map(name => ({ name }) as IServer);
  }

  it('offers a plain and a persistent terminal per SSH server, in step with the list', () => {
    const launched: Array<Record<string, unknown>> = [];
    const launcher = {
      add: jest.fn(options => {
        launched.push(options.args);
        return { dispose: () => launched.splice(launched.indexOf(options.args), 1), isDisposed: false };
      })
    };
    const palette = { addItem: jest.fn(() => ({ dispose: jest.fn(), isDisposed: false })) };
    const items = new TerminalItems(launcher, palette);
    const jupyter = { name: 'hub', kind: 'jupyter' } as unknown as IServer;
    items.update([...servers('gpu'), jupyter]);
    expect(launched).toEqual([
      { server: 'gpu', persistent: false },
      { server: 'gpu', persistent: true }
    ]);
    expect(launcher.add.mock.calls[0][0].command).toBe(CommandIDs.openTerminal);
    expect(palette.addItem).toHaveBeenCalledTimes(2);
    items.update(servers('gpu')); // same names: nothing redone
    expect(launcher.add).toHaveBeenCalledTimes(2);
    items.update(servers('cpu', 'gpu'));
    expect(launched.map(a => `${a.server}:${a.persistent}`)).toEqual([
      'cpu:false',
      'cpu:true',
      'gpu:false',
      'gpu:true'
    ]);
    items.dispose();
    expect(launched).toEqual([]);
    expect(terminalServers([jupyter])).toEqual([]);
  });

  it('names the terminals as the launcher shows them', () => {
    expect(terminalLabel('gpu-box')).toBe('Terminal — gpu-box');
    expect(terminalLabel('gpu-box', true)).toBe('Persistent terminal — gpu-box');
  });
});
