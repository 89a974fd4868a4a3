/**
 * State of the Remote sidebar: saved servers, loading flag, last error.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { listServers, toRemoteError } from './api';
import { IRemoteError, IServer } from './tokens';

/** How often the servers are re-fetched while the panel is shown. */
export const POLL_INTERVAL_MS = 10 * 1000;

/** Upper bound of the back-off after failures. */
export const POLL_MAX_MS = 5 * 60 * 1000;

export namespace RemoteModel {
  export interface IOptions {
    /** Fetches the servers; defaults to `listServers` (GET remote/servers). */
    fetchServers?: () => Promise<IServer[]>;
    /** Poll interval in ms; defaults to POLL_INTERVAL_MS. */
    interval?: number;
  }
}

export class RemoteModel implements IDisposable {
  constructor(options: RemoteModel.IOptions = {}) {
    this._fetchServers = options.fetchServers ?? listServers;
    this._interval = options.interval ?? POLL_INTERVAL_MS;
  }

  /** Saved servers from the last successful refresh. */
  get servers(): readonly IServer[] {
    return this._servers;
  }

  /** Whether a refresh is in flight. */
  get loading(): boolean {
    return this._loading;
  }

  /** Whether at least one refresh has finished (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The error of the last refresh, or null if it succeeded. */
  get error(): IRemoteError | null {
    return this._error;
  }

  /** Emitted whenever servers, loading or error change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is polling. */
  get polling(): boolean {
    return this._poll !== null;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Fetch the servers now. Never rejects: a failure is kept in `error`
   * (the servers of the last success stay, so the list does not flicker).
   * Calls made while one is in flight share it.
   */
  refresh(): Promise<void> {
    return this._refresh().catch(() => undefined);
  }

  /**
   * Start polling every `interval` ms (backing off after failures) and fetch
   * right away. The panel calls this while it is attached and shown.
   */
  startPolling(): void {
    if (this._isDisposed || this._poll) {
      return;
    }
    this._poll = new Poll({
      auto: true,
      factory: () => this._refresh(),
      frequency: {
        interval: this._interval,
        backoff: true,
        max: Math.max(this._interval, POLL_MAX_MS)
      },
      name: 'jupyterlab-remote:servers',
      standby: 'when-hidden'
    });
  }

  /** Stop polling (the panel was hidden or detached). */
  stopPolling(): void {
    if (this._poll) {
      this._poll.dispose();
      this._poll = null;
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.stopPolling();
    Signal.clearData(this);
  }

  /** Fetch and update state; rejects on failure so the Poll backs off. */
  private _refresh(): Promise<void> {
    if (this._isDisposed) {
      return Promise.resolve();
    }
    if (this._pending) {
      return this._pending;
    }
    this._loading = true;
    this._emit();
    const pending = this._fetchServers()
      .then(servers => {
        if (this._isDisposed) {
          return;
        }
        this._servers = servers;
        this._error = null;
      })
      .catch((error: unknown) => {
        if (!this._isDisposed) {
          this._error = toRemoteError(error);
        }
        throw error;
      })
      .finally(() => {
        this._pending = null;
        if (this._isDisposed) {
          return;
        }
        this._loading = false;
        this._loaded = true;
        this._emit();
      });
    this._pending = pending;
    return pending;
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private readonly _fetchServers: () => Promise<IServer[]>;
  private readonly _interval: number;
  private _servers: readonly IServer[] = [];
  private _loading = false;
  private _loaded = false;
  private _error: IRemoteError | null = null;
  private _pending: Promise<void> | null = null;
  private _poll: Poll | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
