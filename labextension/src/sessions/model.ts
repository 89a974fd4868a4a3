/**
 * Remote sessions, kept live from the server's `remote/events` websocket
 * (link.ts: reconnected with back-off, sessions polled while it is down):
 * session cards with their start-up progress and notices (cards.ts), the
 * kernels' activity in JupyterLab, Stop/Retry, the kernels found on a server
 * (remoteKernels.ts; attach, stop) and forwarded ports. Provided to other extensions as
 * ISessionsModel.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ActionTracker } from '../actions';
import * as api from '../api';
import { toRemoteError } from '../api';
import {
  EventsState,
  IActionError,
  IForwardInput,
  IKernelActivity,
  INoticeEvent,
  IProgressEvent,
  IRemoteError,
  IRemoteKernelsState,
  ISession,
  ISessionsModel,
  RemoteEvent
} from '../tokens';
import { KernelActivity } from './activity';
import { SessionCards } from './cards';
import { EventsLink, SESSIONS_POLL_MS } from './link';
import {
  DEFAULT_SESSIONS_API,
  defaultSocket,
  EventsMessage,
  IRunningKernels,
  ISessionsAPI,
  ISessionsOptions
} from './options';
import { RemoteKernelLists } from './remoteKernels';

export type { EventsMessage, IHelloMessage, IRunningKernels } from './options';

export namespace SessionsModel {
  export type IAPI = ISessionsAPI;
  export type IOptions = ISessionsOptions;
}

export class SessionsModel implements ISessionsModel {
  constructor(options: SessionsModel.IOptions = {}) {
    this._api = { ...DEFAULT_SESSIONS_API, ...options.api };
    this._now = options.now ?? (() => Date.now());
    const eventsURL = options.eventsURL ?? (() => api.eventsURL());
    this._link = new EventsLink({
      createSocket: options.createSocket === undefined ? defaultSocket : options.createSocket,
      url: eventsURL,
      onMessage: message => this.handleEvent(message as EventsMessage),
      poll: () => void this.refresh(),
      pollInterval: options.sessionsInterval ?? SESSIONS_POLL_MS,
      onStateChanged: () => this._emit()
    });
    this._kernels = options.kernels ?? null;
    this._kernels?.runningChanged.connect(this._onKernelsChanged, this);
    this._activity = options.activity ?? null;
    this._activity?.changed.connect(this._onKernelsChanged, this);
  }

  get sessions(): readonly ISession[] {
    return this._cards.list();
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): IRemoteError | null {
    return this._error;
  }

  get eventsState(): EventsState {
    return this._link.state;
  }

  get actionError(): IActionError | null {
    return this._actions.actionError;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get event(): ISignal<this, RemoteEvent> {
    return this._event;
  }

  get noticed(): ISignal<this, INoticeEvent> {
    return this._noticed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  progressOf(kernelId: string): IProgressEvent | null {
    return this._cards.progressOf(kernelId);
  }

  noticesOf(kernelId: string): readonly INoticeEvent[] {
    return this._cards.noticesOf(kernelId);
  }

  activityOf(session: ISession): IKernelActivity | null {
    const live = session.kernel_id ? this._activity?.of(session.kernel_id) : null;
    if (live) {
      return live;
    }
    if (!this._kernels || !session.kernel_id) {
      return null;
    }
    for (const kernel of this._kernels.running()) {
      if (kernel.id === session.kernel_id) {
        return { execution_state: kernel.execution_state, last_activity: kernel.last_activity };
      }
    }
    return null;
  }

  errorOf(id: string): IRemoteError | null {
    return this._cards.errorOf(id);
  }

  isBusy(action: string): boolean {
    return this._actions.isBusy(action);
  }

  /**
   * Open the events websocket (idempotent). While it is down the model
   * polls `GET remote/sessions` and reconnects with exponential back-off.
   */
  connectEvents(): void {
    if (!this._isDisposed) {
      this._link.connect();
    }
  }

  disconnectEvents(): void {
    this._link.disconnect();
  }

  /** Fetch the sessions now (also while the websocket is live). Never rejects. */
  async refresh(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    try {
      const sessions = await this._api.listSessions();
      if (this._isDisposed) {
        return;
      }
      this._cards.replace(sessions, this._nowS());
      this._error = null;
    } catch (error) {
      if (this._isDisposed) {
        return;
      }
      this._error = toRemoteError(error);
    }
    this._loaded = true;
    this._emit();
  }

  /**
   * Apply one message of the events websocket (the link calls this; tests
   * too). Unknown or malformed messages are ignored.
   */
  handleEvent(message: EventsMessage | Record<string, unknown>): void {
    if (this._isDisposed || !message || typeof message !== 'object') {
      return;
    }
    const event = message as EventsMessage;
    switch (event.type) {
      case 'hello':
        if (Array.isArray(event.sessions)) {
          this._cards.replace(event.sessions, this._nowS());
          this._loaded = true;
          this._error = null;
          this._emit();
        }
        return;
      case 'session':
        if (event.session && typeof event.session.id === 'string') {
          this._cards.upsert(event.session);
          this._emit();
          this._event.emit(event);
          this._sayWhyStopped(event.session);
        }
        return;
      case 'progress':
        if (typeof event.kernel_id === 'string' && event.kernel_id) {
          this._cards.progress(event, this._nowS());
          this._emit();
          this._event.emit(event);
        }
        return;
      case 'notice':
        if (typeof event.kernel_id === 'string' && event.kernel_id && typeof event.message === 'string') {
          const notice = this._cards.notice(event, this._nowS());
          this._emit();
          this._event.emit(event);
          this._noticed.emit(notice);
        }
        return;
      default:
        return;
    }
  }

  /** Stop a session (the kernel and its forwards); a failure shows on its card. */
  async stopSession(id: string): Promise<void> {
    await this._sessionAction('stop', id, async () => {
      await this._api.stopSession(id);
      this._cards.markStopped(id);
    });
  }

  /** Retry a disconnected session; a failure shows on its card. */
  async retrySession(id: string): Promise<void> {
    await this._sessionAction('retry', id, async () => {
      const session = await this._api.retrySession(id);
      if (session && typeof session.id === 'string') {
        this._cards.upsert(session);
      }
    });
  }

  dismissSession(id: string): void {
    if (this._cards.dismiss(id)) {
      this._emit();
    }
  }

  dismissNotices(kernelId: string): void {
    if (this._cards.dismissNotices(kernelId)) {
      this._emit();
    }
  }

  // ------------------------------------------------- remote kernels, forwards

  remoteKernelsOf(server: string): IRemoteKernelsState | null {
    return this._remoteKernels.of(server);
  }

  /** List the kernels our agent runs on `server` (running, starting or dead). */
  loadRemoteKernels(server: string): Promise<void> {
    return this._remoteKernels.load(server);
  }

  /**
   * Adopt a kernel still running on the remote (found after a restart): it
   * becomes a Jupyter kernel with the same id. Resolves with its id, or null
   * (the failure is the action error).
   */
  async attachKernel(server: string, kernelId: string): Promise<string | null> {
    let id: string | null = null;
    await this._actions.run(`attach:${kernelId}`, `Attach kernel ${kernelId.slice(0, 8)}`, async () => {
      const model = await this._api.attachRemoteKernel(server, kernelId);
      id = model?.id ?? kernelId;
    });
    if (id !== null) {
      void this.loadRemoteKernels(server);
      void this.refresh();
    }
    return id;
  }

  /** Stop a kernel on the remote that no session here manages. */
  async stopRemoteKernel(server: string, kernelId: string): Promise<boolean> {
    const ok = await this._actions.run(
      `stop-remote:${kernelId}`,
      `Stop kernel ${kernelId.slice(0, 8)} on ${server}`,
      () => this._api.stopRemoteKernel(server, kernelId)
    );
    void this.loadRemoteKernels(server);
    return ok;
  }

  forwardError(server: string): IRemoteError | null {
    return this._forwardErrors.get(server) ?? null;
  }

  /** Forward a port on the server's 127.0.0.1; its session card appears. */
  openForward(input: IForwardInput): Promise<ISession | null> {
    return this._actions.track(
      `forward:${input.server}`,
      async () => {
        const session = await this._api.openForward(input);
        if (session && typeof session.id === 'string') {
          this._cards.upsert(session);
        }
        return session;
      },
      error => this._forwardErrors.set(input.server, toRemoteError(error)),
      () => this._forwardErrors.delete(input.server)
    );
  }

  clearActionError(): void {
    this._actions.clearActionError();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._link.dispose();
    this._kernels?.runningChanged.disconnect(this._onKernelsChanged, this);
    this._activity?.changed.disconnect(this._onKernelsChanged, this);
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private async _sessionAction(kind: 'stop' | 'retry', id: string, run: () => Promise<void>): Promise<void> {
    await this._actions.track(
      `${kind}:${id}`,
      run,
      error => this._cards.setError(id, toRemoteError(error)),
      () => this._cards.setError(id, null)
    );
  }

  /**
   * A kernel stopped with a reason the server gives (e.g. from the Remote
   * sidebar, here or in another browser): said once, as a notice, so its
   * notebook's user learns why it has no kernel. A failed start says why in
   * its own error; crashes come as the server's own notices.
   */
  private _sayWhyStopped(session: ISession): void {
    const kernelId = session.kernel_id ?? session.id;
    if (session.kind !== 'kernel' || session.state !== 'stopped' || !session.reason || session.start_failed) {
      return;
    }
    if (this._toldStopped.has(kernelId)) {
      return;
    }
    this._toldStopped.add(kernelId);
    const notice: INoticeEvent = {
      type: 'notice',
      kernel_id: kernelId,
      server: session.server,
      message:
        (session.reason.startsWith('stopped') ? `The kernel was ${session.reason}.` : `The kernel stopped: ${session.reason}.`) +
        ' Select a kernel to start a new one.'
    };
    this.handleEvent(notice);
  }

  /** JupyterLab's kernels changed: the cards' activity may have. */
  private _onKernelsChanged(): void {
    if (this._cards.size) {
      this._emit();
    }
  }

  private _nowS(): number {
    return this._now() / 1000;
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private readonly _api: SessionsModel.IAPI;
  private readonly _now: () => number;
  private readonly _link: EventsLink;
  private readonly _kernels: IRunningKernels | null;
  private readonly _activity: KernelActivity | null;
  private readonly _toldStopped = new Set<string>();
  private readonly _cards = new SessionCards();
  private _loaded = false;
  private _error: IRemoteError | null = null;
  private _forwardErrors = new Map<string, IRemoteError>();
  private _isDisposed = false;
  private readonly _actions = new ActionTracker(
    () => this._emit(),
    () => this._isDisposed
  );
  private readonly _remoteKernels = new RemoteKernelLists(
    server => this._api.listRemoteKernels(server),
    () => this._emit(),
    () => this._isDisposed
  );
  private _changed = new Signal<this, void>(this);
  private _event = new Signal<this, RemoteEvent>(this);
  private _noticed = new Signal<this, INoticeEvent>(this);
}
