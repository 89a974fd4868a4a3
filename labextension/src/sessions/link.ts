/**
 * The live link to the server's `remote/events` websocket: opened once,
 * reopened with exponential back-off when it drops, and while it is down a
 * poll (`GET remote/sessions`) every few seconds keeps the cards current.
 * The sessions model owns one and applies what it receives.
 */
import { IDisposable } from '@lumino/disposable';

import { EventsState } from '../tokens';

/** How often sessions are polled while the events websocket is down. */
export const SESSIONS_POLL_MS = 10 * 1000;

/** First and longest wait before reconnecting the events websocket. */
export const EVENTS_RETRY_FIRST_MS = 1000;
export const EVENTS_RETRY_MAX_MS = 30 * 1000;

/** The part of the browser WebSocket the link uses (so tests can fake it). */
export interface IWebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

export namespace EventsLink {
  export interface IOptions {
    /** Opens the websocket; null: no websocket, polling only. */
    createSocket: ((url: string) => IWebSocketLike) | null;
    /** The websocket's URL, asked at each (re)connection. */
    url: () => string;
    /** Called with each message, parsed from JSON (unparsable ones are dropped). */
    onMessage: (message: unknown) => void;
    /** Fetches the sessions; called at once and every `pollInterval` while down. */
    poll: () => void;
    /** Interval of that polling, in ms. */
    pollInterval: number;
    /** Called when `state` changes. */
    onStateChanged: (state: EventsState) => void;
  }
}

export class EventsLink implements IDisposable {
  constructor(options: EventsLink.IOptions) {
    this._options = options;
  }

  /** `connecting` (first attempt), `live`, or `down` (polling meanwhile). */
  get state(): EventsState {
    return this._state;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Open the websocket (idempotent); polls instead when there is none. */
  connect(): void {
    if (this._isDisposed || this._socket || this._wanted) {
      return;
    }
    this._wanted = true;
    if (!this._options.createSocket) {
      this._setState('down');
      this._startPolling();
      return;
    }
    this._open();
  }

  /** Close the websocket and stop reconnecting and polling. */
  disconnect(): void {
    this._wanted = false;
    this._clearReconnect();
    this._stopPolling();
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this.disconnect();
    this._isDisposed = true;
  }

  private _open(): void {
    const create = this._options.createSocket;
    if (!create || this._isDisposed || !this._wanted) {
      return;
    }
    this._setState(this._everLive ? 'down' : 'connecting');
    let socket: IWebSocketLike;
    try {
      socket = create(this._options.url());
    } catch {
      this._onClosed(null);
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      if (this._socket !== socket) {
        return;
      }
      this._everLive = true;
      this._retryDelay = EVENTS_RETRY_FIRST_MS;
      this._stopPolling();
      this._setState('live');
    };
    socket.onmessage = message => {
      if (this._socket !== socket) {
        return;
      }
      let data: unknown;
      try {
        data = JSON.parse(String(message.data));
      } catch {
        return;
      }
      this._options.onMessage(data);
    };
    socket.onerror = () => {
      // onclose follows and handles it
    };
    socket.onclose = () => this._onClosed(socket);
  }

  private _onClosed(socket: IWebSocketLike | null): void {
    if (socket && this._socket !== socket) {
      return;
    }
    this._socket = null;
    if (this._isDisposed || !this._wanted) {
      return;
    }
    this._setState('down');
    this._startPolling();
    this._clearReconnect();
    const delay = this._retryDelay;
    this._retryDelay = Math.min(this._retryDelay * 2, EVENTS_RETRY_MAX_MS);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._open();
    }, delay);
  }

  private _clearReconnect(): void {
    if (this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
    }
  }

  private _startPolling(): void {
    if (this._pollTimer !== null || this._isDisposed) {
      return;
    }
    this._options.poll();
    this._pollTimer = setInterval(() => this._options.poll(), this._options.pollInterval);
  }

  private _stopPolling(): void {
    if (this._pollTimer !== null) {
      clearInterval(this._pollTimer);
      this._pollTimer = null;
    }
  }

  private _setState(state: EventsState): void {
    if (this._state !== state) {
      this._state = state;
      this._options.onStateChanged(state);
    }
  }

  private readonly _options: EventsLink.IOptions;
  private _socket: IWebSocketLike | null = null;
  private _wanted = false;
  private _everLive = false;
  private _state: EventsState = 'down';
  private _retryDelay = EVENTS_RETRY_FIRST_MS;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _pollTimer: ReturnType<typeof setInterval> | null = null;
  private _isDisposed = false;
}
