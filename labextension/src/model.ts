/**
 * State of the Remote sidebar: saved servers with their profiles, trusted
 * host keys, and remote sessions kept live from the `remote/events`
 * websocket (with polling of `GET remote/sessions` while it is down).
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import { toRemoteError } from './api';
import {
  IForwardInput,
  IHostKey,
  IProfile,
  IProgress,
  IRemoteError,
  IRemoteKernel,
  IServer,
  ISession,
  RemoteEvent
} from './tokens';

/** How often servers/profiles/keys are re-fetched while the panel is shown. */
export const POLL_INTERVAL_MS = 10 * 1000;

/** Upper bound of the back-off after failures. */
export const POLL_MAX_MS = 5 * 60 * 1000;

/** How often sessions are polled while the events websocket is down. */
export const SESSIONS_POLL_MS = 10 * 1000;

/** How long a starting kernel's card stays without news before a listing drops it. */
export const STARTING_GRACE_S = 180;

/** First and longest wait before reconnecting the events websocket. */
export const EVENTS_RETRY_FIRST_MS = 1000;
export const EVENTS_RETRY_MAX_MS = 30 * 1000;

/** The part of the browser WebSocket the model uses (so tests can fake it). */
export interface IWebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** The kernels our agent runs on one server (`GET remote/servers/{name}/kernels`). */
export interface IRemoteKernelsState {
  loading: boolean;
  loaded: boolean;
  error: IRemoteError | null;
  kernels: IRemoteKernel[];
}

/** State of the live events link. */
export type EventsState = 'connecting' | 'live' | 'down';

/** An action that failed, with a way to do it again. */
export interface IActionError {
  /** What was being done, e.g. `Remove server gpu`. */
  label: string;
  error: IRemoteError;
  retry: () => void;
}

export namespace RemoteModel {
  /** The REST calls the model makes (defaults: api.ts). */
  export interface IAPI {
    listServers: () => Promise<IServer[]>;
    listProfiles: () => Promise<IProfile[]>;
    listHostKeys: () => Promise<IHostKey[]>;
    listSessions: () => Promise<ISession[]>;
    removeServer: (name: string) => Promise<void>;
    removeProfile: (name: string) => Promise<void>;
    removeHostKey: (hostId: string) => Promise<number>;
    stopSession: (id: string) => Promise<void>;
    retrySession: (id: string) => Promise<ISession>;
    listRemoteKernels: (server: string) => Promise<IRemoteKernel[]>;
    stopRemoteKernel: (server: string, kernelId: string) => Promise<void>;
    attachRemoteKernel: (server: string, kernelId: string) => Promise<{ id: string }>;
    openForward: (input: IForwardInput) => Promise<ISession>;
  }

  export interface IOptions {
    /** Replace some REST calls (tests). */
    api?: Partial<IAPI>;
    /** Fetches the servers; shorthand for `api.listServers`. */
    fetchServers?: () => Promise<IServer[]>;
    /** Poll interval of servers/profiles/keys in ms; defaults to POLL_INTERVAL_MS. */
    interval?: number;
    /** Opens the events websocket; null disables events. Default: browser WebSocket. */
    createSocket?: ((url: string) => IWebSocketLike) | null;
    /** URL of the events websocket; default api.eventsURL(). */
    eventsURL?: () => string;
    /** Interval of the sessions polling while the websocket is down. */
    sessionsInterval?: number;
    /** Clock in epoch milliseconds (tests). */
    now?: () => number;
  }
}

const DEFAULT_API: RemoteModel.IAPI = {
  listServers: api.listServers,
  listProfiles: api.listProfiles,
  listHostKeys: api.listHostKeys,
  listSessions: api.listSessions,
  removeServer: api.removeServer,
  removeProfile: api.removeProfile,
  removeHostKey: api.removeHostKey,
  stopSession: api.stopSession,
  retrySession: api.retrySession,
  listRemoteKernels: api.listRemoteKernels,
  stopRemoteKernel: api.stopRemoteKernel,
  attachRemoteKernel: api.attachRemoteKernel,
  openForward: api.openForward
};

function defaultSocket(url: string): IWebSocketLike {
  const { WebSocket: Socket } = ServerConnection.makeSettings();
  return new Socket(url) as unknown as IWebSocketLike;
}

export class RemoteModel implements IDisposable {
  constructor(options: RemoteModel.IOptions = {}) {
    this._api = {
      ...DEFAULT_API,
      ...options.api,
      ...(options.fetchServers ? { listServers: options.fetchServers } : {})
    };
    this._interval = options.interval ?? POLL_INTERVAL_MS;
    this._sessionsInterval = options.sessionsInterval ?? SESSIONS_POLL_MS;
    this._createSocket =
      options.createSocket === undefined ? defaultSocket : options.createSocket;
    this._eventsURL = options.eventsURL ?? (() => api.eventsURL());
    this._now = options.now ?? (() => Date.now());
  }

  // ------------------------------------------------------------ servers

  /** Saved servers from the last successful refresh. */
  get servers(): readonly IServer[] {
    return this._servers;
  }

  /** Saved profiles from the last successful refresh. */
  get profiles(): readonly IProfile[] {
    return this._profiles;
  }

  /** The profiles of one server. */
  profilesOf(server: string): IProfile[] {
    return this._profiles.filter(p => p.server === server);
  }

  /** Trusted host keys (ours and ~/.ssh/known_hosts). */
  get hostKeys(): readonly IHostKey[] {
    return this._hostKeys;
  }

  /** Whether a refresh is in flight. */
  get loading(): boolean {
    return this._loading;
  }

  /** Whether at least one refresh has finished (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The error of the last refresh of servers/profiles, or null. */
  get error(): IRemoteError | null {
    return this._error;
  }

  /** The error of the last host-key listing, or null. */
  get hostKeysError(): IRemoteError | null {
    return this._hostKeysError;
  }

  // ------------------------------------------------------------ sessions

  /** Sessions, in the order first seen (stopped ones stay until dismissed). */
  get sessions(): readonly ISession[] {
    return Array.from(this._sessions.values());
  }

  /** Latest start-up progress of a kernel, while it is starting. */
  progressOf(kernelId: string): IProgress | null {
    return this._progress.get(kernelId) ?? null;
  }

  /** Whether the sessions have been fetched once (or said hello). */
  get sessionsLoaded(): boolean {
    return this._sessionsLoaded;
  }

  /** Error of the last sessions poll (while the websocket is down), or null. */
  get sessionsError(): IRemoteError | null {
    return this._sessionsError;
  }

  /** Whether events arrive live, or sessions are polled meanwhile. */
  get eventsState(): EventsState {
    return this._eventsState;
  }

  /** Error of the last Stop/Retry of a session, or null. */
  sessionError(id: string): IRemoteError | null {
    return this._sessionErrors.get(id) ?? null;
  }

  /** Whether an action (`stop:ID`, `retry:ID`, `remove-server:NAME`...) is in flight. */
  isBusy(action: string): boolean {
    return this._busy.has(action);
  }

  /** The last failed action (removals), shown with a Retry. */
  get actionError(): IActionError | null {
    return this._actionError;
  }

  /** Emitted whenever anything above changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the model is polling servers/profiles/keys. */
  get polling(): boolean {
    return this._poll !== null;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Fetch servers, profiles and host keys now. Never rejects: a failure is
   * kept in `error` (the data of the last success stays, so the list does
   * not flicker). Calls made while one is in flight share it.
   */
  refresh(): Promise<void> {
    return this._refresh().catch(() => undefined);
  }

  /** Fetch the sessions now (also while the websocket is live). */
  async refreshSessions(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    try {
      const sessions = await this._api.listSessions();
      if (this._isDisposed) {
        return;
      }
      this._replaceSessions(sessions);
      this._sessionsError = null;
    } catch (error) {
      if (this._isDisposed) {
        return;
      }
      this._sessionsError = toRemoteError(error);
    }
    this._sessionsLoaded = true;
    this._emit();
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

  // -------------------------------------------------------------- events

  /**
   * Open the events websocket (idempotent). While it is down the model
   * polls `GET remote/sessions` every `sessionsInterval` ms and reconnects
   * with exponential back-off.
   */
  connectEvents(): void {
    if (this._isDisposed || this._socket || this._eventsWanted) {
      return;
    }
    this._eventsWanted = true;
    if (!this._createSocket) {
      this._setEventsState('down');
      this._startSessionsPolling();
      return;
    }
    this._openSocket();
  }

  /** Close the events websocket and stop the fallback polling. */
  disconnectEvents(): void {
    this._eventsWanted = false;
    this._clearReconnect();
    this._stopSessionsPolling();
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

  /**
   * Apply one message of the events websocket. Unknown or malformed
   * messages are ignored.
   */
  handleEvent(event: RemoteEvent | Record<string, unknown>): void {
    if (this._isDisposed || !event || typeof event !== 'object') {
      return;
    }
    const message = event as RemoteEvent;
    switch (message.type) {
      case 'hello':
        if (Array.isArray(message.sessions)) {
          this._replaceSessions(message.sessions);
          this._sessionsLoaded = true;
          this._sessionsError = null;
          this._emit();
        }
        return;
      case 'session':
        if (message.session && typeof message.session.id === 'string') {
          this._upsertSession(message.session);
          this._emit();
        }
        return;
      case 'progress':
        if (typeof message.kernel_id === 'string' && message.kernel_id) {
          this._onProgress(message);
          this._emit();
        }
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------ actions

  /** Stop a session (the kernel and its forwards). */
  stopSession(id: string): Promise<void> {
    return this._sessionAction('stop', id, async () => {
      await this._api.stopSession(id);
      const session = this._sessions.get(id);
      if (session && session.state !== 'stopped') {
        // the 'stopped' event may come first or not at all (websocket down)
        this._sessions.set(id, { ...session, state: 'stopped', reason: 'stopped by you' });
      }
      this._progress.delete(id);
    });
  }

  /** Retry a disconnected session. */
  retrySession(id: string): Promise<void> {
    return this._sessionAction('retry', id, async () => {
      const session = await this._api.retrySession(id);
      if (session && typeof session.id === 'string') {
        this._upsertSession(session);
      }
    });
  }

  /** Forget a stopped session card. */
  dismissSession(id: string): void {
    const session = this._sessions.get(id);
    if (session && session.state === 'stopped') {
      this._sessions.delete(id);
      this._sessionErrors.delete(id);
      this._progress.delete(id);
      this._emit();
    }
  }

  /**
   * Remove a saved server. The server refuses while profiles use it, so with
   * `withProfiles` those (and their kernelspecs) are removed first.
   */
  removeServer(name: string, options: { withProfiles?: boolean } = {}): Promise<boolean> {
    return this._action(`remove-server:${name}`, `Remove server ${name}`, async () => {
      if (options.withProfiles) {
        for (const profile of this.profilesOf(name)) {
          if (!profile.readonly) {
            await this._api.removeProfile(profile.name);
            this._profiles = this._profiles.filter(p => p.name !== profile.name);
          }
        }
      }
      await this._api.removeServer(name);
      this._servers = this._servers.filter(s => s.name !== name);
      await this._refresh().catch(() => undefined);
    });
  }

  /** Remove a profile and its kernelspec. */
  removeProfile(name: string): Promise<boolean> {
    return this._action(`remove-profile:${name}`, `Remove profile ${name}`, async () => {
      await this._api.removeProfile(name);
      this._profiles = this._profiles.filter(p => p.name !== name);
    });
  }

  /** Remove every trusted key of a host (`[127.0.0.1]:2222`, `gpu-box`). */
  removeHostKey(hostId: string): Promise<boolean> {
    return this._action(`remove-hostkey:${hostId}`, `Remove the key of ${hostId}`, async () => {
      await this._api.removeHostKey(hostId);
      this._hostKeys = this._hostKeys.filter(
        k => !(k.host_id === hostId && k.source === 'jupyter-remote')
      );
      await this._refreshHostKeys();
    });
  }

  /** Re-fetch only the host keys (the Security drawer was opened, a key trusted). */
  async refreshHostKeys(): Promise<void> {
    await this._refreshHostKeys();
    this._emit();
  }

  // ------------------------------------------------- remote kernels, forwards

  /** The kernels found on a server by the last loadRemoteKernels, or null. */
  remoteKernelsOf(server: string): IRemoteKernelsState | null {
    return this._remoteKernels.get(server) ?? null;
  }

  /** List the kernels our agent runs on `server` (running, starting or dead). */
  async loadRemoteKernels(server: string): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    const before = this._remoteKernels.get(server);
    this._remoteKernels.set(server, {
      kernels: before?.kernels ?? [],
      loaded: before?.loaded ?? false,
      loading: true,
      error: null
    });
    this._emit();
    let next: IRemoteKernelsState;
    try {
      const kernels = await this._api.listRemoteKernels(server);
      next = { kernels: Array.isArray(kernels) ? kernels : [], loaded: true, loading: false, error: null };
    } catch (error) {
      next = {
        kernels: before?.kernels ?? [],
        loaded: true,
        loading: false,
        error: toRemoteError(error)
      };
    }
    if (!this._isDisposed) {
      this._remoteKernels.set(server, next);
      this._emit();
    }
  }

  /**
   * Adopt a kernel still running on the remote (found after a restart): it
   * becomes a Jupyter kernel with the same id. Resolves with its id, or null.
   */
  async attachKernel(server: string, kernelId: string): Promise<string | null> {
    let id: string | null = null;
    await this._action(`attach:${kernelId}`, `Attach kernel ${kernelId.slice(0, 8)}`, async () => {
      const model = await this._api.attachRemoteKernel(server, kernelId);
      id = model?.id ?? kernelId;
    });
    if (id !== null) {
      void this.loadRemoteKernels(server);
      void this.refreshSessions();
    }
    return id;
  }

  /** Stop a kernel on the remote that no session here manages. */
  async stopRemoteKernel(server: string, kernelId: string): Promise<boolean> {
    const ok = await this._action(
      `stop-remote:${kernelId}`,
      `Stop kernel ${kernelId.slice(0, 8)} on ${server}`,
      () => this._api.stopRemoteKernel(server, kernelId)
    );
    void this.loadRemoteKernels(server);
    return ok;
  }

  /** The error of the last forward opened on a server, or null. */
  forwardError(server: string): IRemoteError | null {
    return this._forwardErrors.get(server) ?? null;
  }

  /** Forward a port on the server's 127.0.0.1; its session card appears. */
  async openForward(input: IForwardInput): Promise<ISession | null> {
    const key = `forward:${input.server}`;
    if (this._isDisposed || this._busy.has(key)) {
      return null;
    }
    this._busy.add(key);
    this._forwardErrors.delete(input.server);
    this._emit();
    try {
      const session = await this._api.openForward(input);
      if (session && typeof session.id === 'string') {
        this._upsertSession(session);
      }
      return session;
    } catch (error) {
      this._forwardErrors.set(input.server, toRemoteError(error));
      return null;
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  /** Forget the last action error (its box was closed). */
  clearActionError(): void {
    if (this._actionError) {
      this._actionError = null;
      this._emit();
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this.disconnectEvents();
    this._isDisposed = true;
    this.stopPolling();
    Signal.clearData(this);
  }

  // ------------------------------------------------------------ private

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
    const pending = Promise.all([
      this._api.listServers(),
      this._api.listProfiles().catch((error: unknown) => {
        // an older server without profiles: show the servers anyway
        if (error instanceof api.RemoteAPIError && error.status === 404) {
          return [] as IProfile[];
        }
        throw error;
      }),
      this._refreshHostKeys()
    ])
      .then(([servers, profiles]) => {
        if (this._isDisposed) {
          return;
        }
        this._servers = Array.isArray(servers) ? servers : [];
        this._profiles = Array.isArray(profiles) ? profiles : [];
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

  private async _refreshHostKeys(): Promise<void> {
    try {
      const keys = await this._api.listHostKeys();
      if (!this._isDisposed) {
        this._hostKeys = Array.isArray(keys) ? keys : [];
        this._hostKeysError = null;
      }
    } catch (error) {
      if (!this._isDisposed) {
        this._hostKeysError = toRemoteError(error);
      }
    }
  }

  private async _action(
    key: string,
    label: string,
    run: () => Promise<void>
  ): Promise<boolean> {
    if (this._isDisposed || this._busy.has(key)) {
      return false;
    }
    this._busy.add(key);
    this._actionError = null;
    this._emit();
    try {
      await run();
      return true;
    } catch (error) {
      if (!this._isDisposed) {
        this._actionError = {
          label,
          error: toRemoteError(error),
          retry: () => void this._action(key, label, run)
        };
      }
      return false;
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  private async _sessionAction(
    kind: 'stop' | 'retry',
    id: string,
    run: () => Promise<void>
  ): Promise<void> {
    const key = `${kind}:${id}`;
    if (this._isDisposed || this._busy.has(key)) {
      return;
    }
    this._busy.add(key);
    this._sessionErrors.delete(id);
    this._emit();
    try {
      await run();
    } catch (error) {
      if (!this._isDisposed) {
        this._sessionErrors.set(id, toRemoteError(error));
      }
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  private _replaceSessions(sessions: ISession[]): void {
    const next = new Map<string, ISession>();
    const incoming = new Set<string>();
    for (const session of sessions) {
      if (session && typeof session.id === 'string') {
        incoming.add(session.id);
      }
    }
    // keep the order of cards: known ones first, in their order
    for (const [id, old] of this._sessions) {
      if (incoming.has(id)) {
        continue;
      }
      // stopped cards stay until dismissed; a starting kernel the server
      // does not list yet keeps its progress card
      if (old.state === 'stopped' || this._startingRecently(id)) {
        next.set(id, old);
      } else {
        this._sessionErrors.delete(id);
      }
    }
    const ordered = new Map<string, ISession>();
    for (const id of this._sessions.keys()) {
      if (incoming.has(id)) {
        ordered.set(id, sessions.find(s => s.id === id)!);
      } else if (next.has(id)) {
        ordered.set(id, next.get(id)!);
      }
    }
    for (const session of sessions) {
      if (session && typeof session.id === 'string' && !ordered.has(session.id)) {
        ordered.set(session.id, session);
      }
    }
    this._sessions = ordered;
    for (const session of ordered.values()) {
      if (session.state !== 'connecting') {
        this._progress.delete(session.id);
      }
    }
  }

  /**
   * Whether a kernel the server does not list yet reported start-up progress
   * lately (a start that failed says nothing more: its card goes away).
   */
  private _startingRecently(id: string): boolean {
    const progress = this._progress.get(id);
    if (!progress) {
      return false;
    }
    const age = this._now() / 1000 - (progress.time ?? 0);
    if (age <= STARTING_GRACE_S) {
      return true;
    }
    this._progress.delete(id);
    return false;
  }

  private _upsertSession(session: ISession): void {
    this._sessions.set(session.id, session);
    if (session.state !== 'connecting') {
      this._progress.delete(session.id);
    }
    if (session.state === 'running') {
      this._sessionErrors.delete(session.id);
    }
  }

  private _onProgress(progress: IProgress): void {
    const entry: IProgress = {
      kernel_id: progress.kernel_id,
      server: String(progress.server ?? ''),
      stage: String(progress.stage ?? ''),
      message: String(progress.message ?? ''),
      time: typeof progress.time === 'number' ? progress.time : this._now() / 1000
    };
    const session = this._sessions.get(entry.kernel_id);
    if (!session) {
      // A kernel is starting: its session is not announced before it runs.
      this._sessions.set(entry.kernel_id, {
        id: entry.kernel_id,
        kind: 'kernel',
        kernel_id: entry.kernel_id,
        server: entry.server,
        profile: '',
        python: null,
        state: 'connecting',
        reason: '',
        started: entry.time ?? this._now() / 1000,
        reconnects: 0,
        local_ports: []
      });
    } else if (session.state === 'stopped') {
      return;
    }
    const current = this._sessions.get(entry.kernel_id);
    if (entry.stage === 'ready' && current && current.state !== 'connecting') {
      this._progress.delete(entry.kernel_id);
      return;
    }
    this._progress.set(entry.kernel_id, entry);
  }

  private _openSocket(): void {
    if (!this._createSocket || this._isDisposed || !this._eventsWanted) {
      return;
    }
    this._setEventsState(this._everLive ? 'down' : 'connecting');
    let socket: IWebSocketLike;
    try {
      socket = this._createSocket(this._eventsURL());
    } catch {
      this._onSocketClosed(null);
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      if (this._socket !== socket) {
        return;
      }
      this._everLive = true;
      this._retryDelay = EVENTS_RETRY_FIRST_MS;
      this._stopSessionsPolling();
      this._setEventsState('live');
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
      this.handleEvent(data as RemoteEvent);
    };
    socket.onerror = () => {
      // onclose follows and handles it
    };
    socket.onclose = () => this._onSocketClosed(socket);
  }

  private _onSocketClosed(socket: IWebSocketLike | null): void {
    if (socket && this._socket !== socket) {
      return;
    }
    this._socket = null;
    if (this._isDisposed || !this._eventsWanted) {
      return;
    }
    this._setEventsState('down');
    this._startSessionsPolling();
    this._clearReconnect();
    const delay = this._retryDelay;
    this._retryDelay = Math.min(this._retryDelay * 2, EVENTS_RETRY_MAX_MS);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._openSocket();
    }, delay);
  }

  private _clearReconnect(): void {
    if (this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
    }
  }

  private _startSessionsPolling(): void {
    if (this._sessionsTimer !== null || this._isDisposed) {
      return;
    }
    void this.refreshSessions();
    this._sessionsTimer = setInterval(() => {
      void this.refreshSessions();
    }, this._sessionsInterval);
  }

  private _stopSessionsPolling(): void {
    if (this._sessionsTimer !== null) {
      clearInterval(this._sessionsTimer);
      this._sessionsTimer = null;
    }
  }

  private _setEventsState(state: EventsState): void {
    if (this._eventsState !== state) {
      this._eventsState = state;
      this._emit();
    }
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private readonly _api: RemoteModel.IAPI;
  private readonly _interval: number;
  private readonly _sessionsInterval: number;
  private readonly _createSocket: ((url: string) => IWebSocketLike) | null;
  private readonly _eventsURL: () => string;
  private readonly _now: () => number;
  private _servers: readonly IServer[] = [];
  private _profiles: readonly IProfile[] = [];
  private _hostKeys: readonly IHostKey[] = [];
  private _hostKeysError: IRemoteError | null = null;
  private _loading = false;
  private _loaded = false;
  private _error: IRemoteError | null = null;
  private _pending: Promise<void> | null = null;
  private _poll: Poll | null = null;
  private _sessions = new Map<string, ISession>();
  private _progress = new Map<string, IProgress>();
  private _sessionErrors = new Map<string, IRemoteError>();
  private _sessionsLoaded = false;
  private _sessionsError: IRemoteError | null = null;
  private _busy = new Set<string>();
  private _remoteKernels = new Map<string, IRemoteKernelsState>();
  private _forwardErrors = new Map<string, IRemoteError>();
  private _actionError: IActionError | null = null;
  private _socket: IWebSocketLike | null = null;
  private _eventsWanted = false;
  private _everLive = false;
  private _eventsState: EventsState = 'down';
  private _retryDelay = EVENTS_RETRY_FIRST_MS;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _sessionsTimer: ReturnType<typeof setInterval> | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
