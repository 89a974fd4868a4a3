/**
 * What the Remote sidebar shows besides the models' data: the server form,
 * the folded-out server tools, the Security drawer, the clock of the uptimes;
 * and the user's actions that need more than a model call (a confirmation
 * first, a wizard tab, a notebook, a browser tab). The sidebar's components
 * read it and call it; the panel widget creates it.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { openForwardTab, toRemoteError } from '../api';
import {
  ICatalogModel,
  IHostKey,
  IProfile,
  IRemoteError,
  IRemoteKernel,
  IServer,
  IServerGpus,
  IServerInput,
  ISession,
  ISessionsModel,
  jupyterKernelNameOf,
  kernelNameOf
} from '../tokens';

import {
  IConfirmation,
  removeHostKeyQuestion,
  removeProfileQuestion,
  removeServerQuestion,
  stopKernelQuestion,
  stopRemoteKernelQuestion
} from './confirmations';

export type { IConfirmation } from './confirmations';

/**
 * Our kernelspec a kernel session was started from: its profile's, or (a kernel of
 * a Jupyter server) that server's kernelspec; '' when the card does not say.
 */
export function retryKernelName(session: ISession): string {
  if (session.target === 'jupyter') {
    return session.kernel_name ? jupyterKernelNameOf(session.server, session.kernel_name) : '';
  }
  return session.profile ? kernelNameOf(session.profile) : '';
}

/** The per-server tools that fold out under it. */
export type ServerTool = 'kernels' | 'forward';

/** The server form, when open. */
export interface IFormState {
  mode: 'add' | 'edit';
  server?: IServer | null;
  saving: boolean;
  error: IRemoteError | null;
}

export namespace SidebarModel {
  export interface IOptions {
    catalog: ICatalogModel;
    sessions: ISessionsModel;
    /** Ask before a destructive action; resolves true when the user goes ahead. */
    confirm: (question: IConfirmation) => Promise<boolean>;
    /** Open the connect wizard of a server. */
    openWizard?: (server: string) => void;
    /** Open the wizard on a saved profile, to edit it. */
    openEditWizard?: (profile: IProfile) => void;
    /**
     * Start again a kernel whose start failed: in the notebooks waiting for
     * its kernelspec, else in a new notebook.
     */
    retryStart?: (kernelName: string) => void;
    /** A kernel was stopped from a card: JupyterLab's kernel and session lists catch up. */
    kernelStopped?: (kernelId: string) => void;
    /** Open a new notebook on a kernelspec. */
    openNotebook?: (kernelName: string) => void;
    /**
     * Open a new notebook on a running kernel (after Attach): `kernel` as the
     * listing of `server` shows it (its server and working directory).
     */
    openKernel?: (kernelId: string, server: string, kernel: IRemoteKernel) => void;
    /** Open a forward's page in a new tab; default api.openForwardTab. */
    openForwardTab?: (session: ISession) => void;
    /** Give the focus to a sidebar button, by accessible name (after the form closed). */
    focusButton?: (label: string) => void;
    /** Clock in epoch ms (tests). */
    now?: () => number;
  }
}

export class SidebarModel implements IDisposable {
  constructor(options: SidebarModel.IOptions) {
    this.catalog = options.catalog;
    this.sessions = options.sessions;
    this._options = options;
    this._now = options.now ?? (() => Date.now());
    this.sessions.changed.connect(this._syncClock, this);
  }

  readonly catalog: ICatalogModel;
  readonly sessions: ISessionsModel;

  /** Epoch ms, for uptimes; `changed` fires every second while one is shown. */
  get now(): number {
    return this._now();
  }

  /** The add/edit form, or null when the list shows. */
  get form(): IFormState | null {
    return this._form;
  }

  get securityOpen(): boolean {
    return this._securityOpen;
  }

  /** Which tool is folded out under a server, if any. */
  openTool(server: string): ServerTool | null {
    return this._tools.get(server) ?? null;
  }

  /** The display name of a session's profile kernel, if known. */
  displayNameOf(session: ISession): string | undefined {
    return (session.profile && this.catalog.profile(session.profile)?.display_name) || undefined;
  }

  /** Emitted when anything above changes (and every second while the clock runs). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The panel was shown (true) or hidden/detached (false): the catalog is
   * polled and the uptimes tick only while it can be seen.
   */
  setVisible(visible: boolean): void {
    this._visible = visible;
    if (visible) {
      this.catalog.startPolling();
    } else {
      this.catalog.stopPolling();
    }
    this._syncClock();
  }

  /** Fetch servers, profiles, keys and sessions now. */
  refresh(): void {
    void this.catalog.refresh();
    void this.sessions.refresh();
  }

  // ----------------------------------------------------------------- form

  openAddForm(): void {
    this._setForm({ mode: 'add', server: null, saving: false, error: null });
  }

  openEditForm(server: IServer): void {
    this._setForm({ mode: 'edit', server, saving: false, error: null });
  }

  /** Close the form and give the focus back to the button that opened it. */
  closeForm(): void {
    const form = this._form;
    this._setForm(null);
    const label = form?.mode === 'edit' && form.server ? `Edit server ${form.server.name}` : 'Add server';
    this._options.focusButton?.(label);
  }

  /**
   * Save the form. A new server's connect wizard opens after the lists were
   * fetched again; a refusal shows in the form (a name taken: at the name).
   */
  async submitServer(input: IServerInput): Promise<void> {
    const form = this._form;
    if (!form || form.saving) {
      return;
    }
    this._setForm({ ...form, saving: true, error: null });
    try {
      const saved = await this.catalog.saveServer(input, form.mode === 'add' ? undefined : form.server?.name ?? '');
      this.closeForm();
      await this.catalog.refresh();
      if (saved.kind === 'jupyter') {
        // no wizard: its kernelspecs are listed (and ours written) at once
        void this.catalog.loadKernelspecs(saved.name);
      } else if (form.mode === 'add') {
        this._options.openWizard?.(saved.name);
      }
    } catch (error) {
      const remote = toRemoteError(error);
      if (!remote.field && remote.reason === 'conflict') {
        remote.field = 'name';
      }
      this._setForm({ ...form, saving: false, error: remote });
    }
  }

  // ------------------------------------------------------- drawers, tools

  /** Fold a server's tool out (the kernels tool lists them at once), or in. */
  toggleTool(server: string, tool: ServerTool): void {
    if (this._tools.get(server) === tool) {
      this._tools.delete(server);
    } else {
      this._tools.set(server, tool);
      if (tool === 'kernels') {
        void this.sessions.loadRemoteKernels(server);
      }
    }
    this._emit();
  }

  /** Open (or close) the Security drawer, fetching the keys when opened. */
  setSecurityOpen(open: boolean): void {
    this._securityOpen = open;
    if (open) {
      void this.catalog.refreshHostKeys();
    }
    this._emit();
  }

  toggleSecurity(): void {
    this.setSecurityOpen(!this._securityOpen);
  }

  // -------------------------------------------------------------- actions

  /** Open the connect wizard of a server (test, environment, new profile). */
  connect(server: IServer): void {
    this._options.openWizard?.(server.name);
  }

  openNotebook(profile: IProfile): void {
    this._options.openNotebook?.(profile.kernel_name);
  }

  /** A Jupyter server's kernelspec: a new notebook on our kernelspec that starts it. */
  openKernelspec(kernelName: string): void {
    this._options.openNotebook?.(kernelName);
  }

  /** A profile's Edit button: the wizard, on its Review step, prefilled. */
  editProfile(profile: IProfile): void {
    if (!profile.readonly) {
      this._options.openEditWizard?.(profile);
    }
  }

  /** Whether a stopped card's kernel failed to start and can be started again. */
  canRetryStart(session: ISession): boolean {
    return session.kind === 'kernel' && session.start_failed === true && !!retryKernelName(session);
  }

  /**
   * Retry on the card of a kernel whose start failed: start the same kernelspec
   * again (a profile's, or a Jupyter server's kernelspec on that server).
   */
  retryStart(session: ISession): void {
    const kernelName = this.canRetryStart(session) ? retryKernelName(session) : '';
    if (kernelName) {
      this.sessions.dismissSession(session.id);
      this._options.retryStart?.(kernelName);
    }
  }

  /** The server's GPUs for its card: load what the last probe saw, once. */
  gpusOf(server: IServer): IServerGpus | null {
    const found = this.catalog.gpusOf(server.name);
    if (!found && !this._gpusAsked.has(server.name)) {
      this._gpusAsked.add(server.name);
      void this.catalog.loadGpus(server.name);
    }
    return found;
  }

  /** A forward's Open button: its page in a new tab. */
  openForward(session: ISession): void {
    if (session.url) {
      (this._options.openForwardTab ?? openForwardTab)(session);
    }
  }

  /**
   * A card's Stop. A kernel is stopped only once its user says so (its
   * variables are lost); then JupyterLab learns at once that it is gone, so the
   * notebook shows no kernel rather than Idle until its next poll (and the
   * notices say why: issue 13 item 6).
   */
  async stopSession(session: ISession): Promise<void> {
    if (session.kind === 'kernel') {
      if (!(await this._options.confirm(stopKernelQuestion(session)))) {
        return;
      }
    }
    await this.sessions.stopSession(session.id);
    if (session.kind === 'kernel' && !this.sessions.errorOf(session.id)) {
      this._options.kernelStopped?.(session.kernel_id ?? session.id);
    }
  }

  async removeServer(server: IServer): Promise<void> {
    const profiles = this.catalog.profilesOf(server.name);
    if (await this._options.confirm(removeServerQuestion(server, profiles))) {
      await this.catalog.removeServer(server.name, { withProfiles: true });
    }
  }

  async removeProfile(profile: IProfile): Promise<void> {
    if (await this._options.confirm(removeProfileQuestion(profile))) {
      await this.catalog.removeProfile(profile.name);
    }
  }

  async removeHostKey(key: IHostKey): Promise<void> {
    if (await this._options.confirm(removeHostKeyQuestion(key))) {
      await this.catalog.removeHostKey(key.host_id);
    }
  }

  /** Attach a kernel found on the server, then open a notebook on it. */
  async attach(server: string, kernel: IRemoteKernel): Promise<void> {
    const id = await this.sessions.attachKernel(server, kernel.kernel_id);
    if (id) {
      this._options.openKernel?.(id, server, kernel);
    }
  }

  async stopRemoteKernel(server: string, kernel: IRemoteKernel): Promise<void> {
    if (await this._options.confirm(stopRemoteKernelQuestion(server, kernel.kernel_id))) {
      await this.sessions.stopRemoteKernel(server, kernel.kernel_id);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._stopClock();
    this.catalog.stopPolling();
    this.sessions.changed.disconnect(this._syncClock, this);
    Signal.clearData(this);
  }

  /** Tick every second while the panel is seen and a live session shows an uptime. */
  private _syncClock(): void {
    const ticking =
      !this._isDisposed && this._visible && this.sessions.sessions.some(s => s.state !== 'stopped');
    if (ticking && this._clock === null) {
      this._clock = setInterval(() => this._emit(), 1000);
    } else if (!ticking) {
      this._stopClock();
    }
  }

  private _stopClock(): void {
    if (this._clock !== null) {
      clearInterval(this._clock);
      this._clock = null;
    }
  }

  private _setForm(form: IFormState | null): void {
    this._form = form;
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private readonly _options: SidebarModel.IOptions;
  private readonly _now: () => number;
  private _form: IFormState | null = null;
  private _tools = new Map<string, ServerTool>();
  private _gpusAsked = new Set<string>();
  private _securityOpen = false;
  private _visible = false;
  private _clock: ReturnType<typeof setInterval> | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
