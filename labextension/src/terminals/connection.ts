/**
 * A remote terminal as JupyterLab's terminal widget sees it: a
 * `Terminal.ITerminalConnection` on our websocket
 * (`remote/servers/{name}/terminals/{id}/websocket`), in terminado's protocol.
 *
 * The link to the remote is the server's business: while it is down the
 * websocket stays open and the terminal itself says so (and says it is back).
 * This connection only reconnects the websocket when that drops (the Jupyter
 * server restarted, the laptop slept), with back-off; the server sends the
 * screen so far again after `setup`, as Jupyter's own terminals do.
 */
import { ServerConnection, Terminal } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { closeTerminal, terminalSocketURL } from '../api/terminals';

/** Delays between websocket reconnects, in ms (then the last, repeated). */
export const RECONNECT_DELAYS_MS = [0, 500, 1000, 2000, 5000];
/** Attempts before the connection counts as `disconnected` for good. */
export const RECONNECT_LIMIT = 20;

export namespace RemoteTerminalConnection {
  export interface IOptions {
    /** The saved server the terminal runs on. */
    server: string;
    /** The terminal's id (`term-...`). */
    id: string;
    /** Whether its shell runs in a tmux or screen session that survives link drops. */
    persistent?: boolean;
    serverSettings?: ServerConnection.ISettings;
    /** How to close it for good (DELETE); a stand-in in tests. */
    close?: (server: string, id: string) => Promise<void>;
  }
}

export class RemoteTerminalConnection implements Terminal.ITerminalConnection {
  constructor(options: RemoteTerminalConnection.IOptions) {
    this.server = options.server;
    this.persistent = !!options.persistent;
    this._id = options.id;
    this.serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
    this._close = options.close ?? closeTerminal;
    this._open();
  }

  readonly server: string;
  readonly persistent: boolean;
  readonly serverSettings: ServerConnection.ISettings;

  get name(): string {
    return this._id;
  }

  get model(): Terminal.IModel {
    return { name: this._id };
  }

  get messageReceived(): ISignal<this, Terminal.IMessage> {
    return this._messageReceived;
  }

  get connectionStatus(): Terminal.ConnectionStatus {
    return this._status;
  }

  get connectionStatusChanged(): ISignal<this, Terminal.ConnectionStatus> {
    return this._statusChanged;
  }

  get disposed(): ISignal<this, void> {
    return this._disposed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Keystrokes and sizes; queued while the websocket reconnects. */
  send(message: Terminal.IMessage): void {
    if (this._isDisposed || !message.content) {
      return;
    }
    if (this._status === 'connected' && this._ws) {
      this._ws.send(JSON.stringify([message.type, ...message.content]));
    } else if (message.type === 'set_size') {
      this._pendingSize = message; // only the latest size matters
    } else {
      this._pending.push(message);
    }
  }

  /** Open the websocket again now (the widget's Refresh). */
  reconnect(): Promise<void> {
    this._attempt = 0;
    this._scheduleReconnect(0);
    return new Promise((resolve, reject) => {
      const settle = (_: unknown, status: Terminal.ConnectionStatus): void => {
        if (status === 'connecting') {
          return;
        }
        this._statusChanged.disconnect(settle);
        status === 'connected' ? resolve() : reject(new Error('Terminal disconnected'));
      };
      this._statusChanged.connect(settle);
    });
  }

  /** Close for good (the tab was closed): the remote shell and what it started end. */
  async shutdown(): Promise<void> {
    await this._close(this.server, this._id);
    this.dispose();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._timer);
    this._setStatus('disconnected');
    this._clearSocket();
    this._disposed.emit();
    Signal.clearData(this);
  }

  private _open(): void {
    this._clearSocket();
    this._setStatus('connecting');
    const url = terminalSocketURL(this.server, this._id, this.serverSettings);
    const ws = new this.serverSettings.WebSocket(url);
    this._ws = ws;
    ws.onmessage = (event: MessageEvent) => this._onMessage(event);
    ws.onclose = (event: CloseEvent) => this._onClose(event);
    ws.onerror = () => undefined; // onclose follows
  }

  private _onMessage(event: MessageEvent): void {
    if (this._isDisposed) {
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(event.data as string);
    } catch {
      return;
    }
    if (!Array.isArray(data) || typeof data[0] !== 'string') {
      return;
    }
    const [type, ...content] = data as [Terminal.MessageType, ...string[]];
    if (this._status === 'connecting') {
      if ((type as string) === 'setup') {
        this._attempt = 0;
        this._setStatus('connected');
      }
      return;
    }
    this._messageReceived.emit({ type, content });
    if (type === 'disconnect') {
      this.dispose(); // the shell exited or the terminal was closed
    }
  }

  private _onClose(event: CloseEvent): void {
    if (this._isDisposed) {
      return;
    }
    this._ws = null;
    if (event.code === 1000 || event.code === 1001) {
      this.dispose(); // closed on purpose (the server said disconnect first)
      return;
    }
    if (this._attempt >= RECONNECT_LIMIT) {
      this._setStatus('disconnected');
      return;
    }
    const delays = RECONNECT_DELAYS_MS;
    this._scheduleReconnect(delays[Math.min(this._attempt, delays.length - 1)]);
  }

  private _scheduleReconnect(delay: number): void {
    clearTimeout(this._timer);
    this._setStatus('connecting');
    this._attempt += 1;
    this._timer = setTimeout(() => this._open(), delay);
  }

  private _clearSocket(): void {
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      ws.close();
    }
  }

  private _setStatus(status: Terminal.ConnectionStatus): void {
    if (status === this._status) {
      return;
    }
    this._status = status;
    if (status === 'connected') {
      this._flush();
    }
    this._statusChanged.emit(status);
  }

  private _flush(): void {
    const pending = this._pendingSize ? [this._pendingSize, ...this._pending] : this._pending;
    this._pending = [];
    this._pendingSize = null;
    for (const message of pending) {
      this.send(message);
    }
  }

  private _id: string;
  private _close: (server: string, id: string) => Promise<void>;
  private _ws: WebSocket | null = null;
  private _status: Terminal.ConnectionStatus = 'connecting';
  private _attempt = 0;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _pending: Terminal.IMessage[] = [];
  private _pendingSize: Terminal.IMessage | null = null;
  private _isDisposed = false;
  private _messageReceived = new Signal<this, Terminal.IMessage>(this);
  private _statusChanged = new Signal<this, Terminal.ConnectionStatus>(this);
  private _disposed = new Signal<this, void>(this);
}
