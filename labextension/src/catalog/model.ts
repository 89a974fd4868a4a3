/**
 * The catalog: saved servers, their profiles and the trusted host keys.
 *
 * The sidebar polls it every 10 s while it is shown; forms and the connect
 * wizard add, edit, remove and trust through it, so every view sees the
 * change at once. Provided to other extensions as ICatalogModel.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ActionTracker } from '../actions';
import * as api from '../api';
import { toRemoteError } from '../api';
import {
  IActionError,
  ICatalogModel,
  IHostKey,
  IJupyterKernelspec,
  IProfile,
  IProfileInput,
  IRemoteError,
  IServer,
  IServerGpus,
  IServerInput
} from '../tokens';
import { DEFAULT_CATALOG_API, ICatalogAPI, ICatalogOptions, POLL_INTERVAL_MS, POLL_MAX_MS } from './options';

export { POLL_INTERVAL_MS, POLL_MAX_MS } from './options';

export namespace CatalogModel {
  export type IAPI = ICatalogAPI;
  export type IOptions = ICatalogOptions;
}

export class CatalogModel implements ICatalogModel {
  constructor(options: CatalogModel.IOptions = {}) {
    this._api = { ...DEFAULT_CATALOG_API, ...options.api };
    this._interval = options.interval ?? POLL_INTERVAL_MS;
  }

  get servers(): readonly IServer[] {
    return this._servers;
  }

  get profiles(): readonly IProfile[] {
    return this._profiles;
  }

  get hostKeys(): readonly IHostKey[] {
    return this._hostKeys;
  }

  get loading(): boolean {
    return this._loading;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): IRemoteError | null {
    return this._error;
  }

  get hostKeysError(): IRemoteError | null {
    return this._hostKeysError;
  }

  get actionError(): IActionError | null {
    return this._actions.actionError;
  }

  get polling(): boolean {
    return this._poll !== null;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get profilesChanged(): ISignal<this, void> {
    return this._profilesChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  server(name: string): IServer | null {
    return this._servers.find(s => s.name === name) ?? null;
  }

  profilesOf(server: string): IProfile[] {
    return this._profiles.filter(p => p.server === server);
  }

  profile(name: string): IProfile | null {
    return this._profiles.find(p => p.name === name) ?? null;
  }

  isBusy(action: string): boolean {
    return this._actions.isBusy(action);
  }

  /**
   * Fetch servers, profiles and host keys now. Never rejects: a failure is
   * kept in `error` (the data of the last success stays, so the list does
   * not flicker). Calls made while one is in flight share it.
   */
  refresh(): Promise<void> {
    return this._refresh().catch(() => undefined);
  }

  /** Re-fetch only the host keys (the Security drawer was opened, a key trusted). */
  async refreshHostKeys(): Promise<void> {
    await this._refreshHostKeys();
    this._emit();
  }

  /**
   * Start polling every `interval` ms (backing off after failures) and fetch
   * right away. The sidebar calls this while it is attached and shown.
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

  /** Stop polling (the sidebar was hidden or detached). */
  stopPolling(): void {
    if (this._poll) {
      this._poll.dispose();
      this._poll = null;
    }
  }

  /**
   * POST (no `name`) or PATCH a server. The answer replaces the server in the
   * list at once (the wizard opened next shows its address); rejects with the
   * server's error (a 400 names its `field`).
   */
  async saveServer(input: IServerInput, name?: string): Promise<IServer> {
    const saved =
      name === undefined ? await this._api.addServer(input) : await this._api.updateServer(name, input);
    if (!this._isDisposed && saved && typeof saved.name === 'string') {
      const others = this._servers.filter(s => s.name !== saved.name && s.name !== name);
      this._servers = [...others, saved];
      this._emit();
    }
    return saved;
  }

  /**
   * Remove a saved server. The server refuses while profiles use it, so with
   * `withProfiles` those (and their kernelspecs) are removed first.
   */
  removeServer(name: string, options: { withProfiles?: boolean } = {}): Promise<boolean> {
    return this._actions.run(`remove-server:${name}`, `Remove server ${name}`, async () => {
      if (options.withProfiles) {
        let removed = 0;
        try {
          for (const profile of this.profilesOf(name)) {
            if (!profile.readonly) {
              await this._api.removeProfile(profile.name);
              this._profiles = this._profiles.filter(p => p.name !== profile.name);
              removed++;
            }
          }
        } finally {
          if (removed) {
            this._profilesChanged.emit(undefined);
          }
        }
      }
      await this._api.removeServer(name);
      this._servers = this._servers.filter(s => s.name !== name);
      await this._refresh().catch(() => undefined);
    });
  }

  /**
   * Save a profile (POST: 409 `ipykernel_missing` when the env lacks
   * ipykernel). It is listed at once and `profilesChanged` fires (the
   * kernelspecs are refreshed); a full refresh follows in the background.
   */
  async addProfile(input: IProfileInput, options: api.ISaveProfileOptions = {}): Promise<IProfile> {
    return this._keepProfile(await this._api.addProfile(input, options));
  }

  /**
   * PATCH a profile (only the fields given); its kernelspec follows, so the
   * kernel picker refreshes. Rejects with the server's error.
   */
  async updateProfile(
    name: string,
    changes: Partial<IProfileInput>,
    options: api.ISaveProfileOptions = {}
  ): Promise<IProfile> {
    return this._keepProfile(await this._api.updateProfile(name, changes, options));
  }

  /** The GPUs the last probe of `server` saw (null until loaded). */
  gpusOf(server: string): IServerGpus | null {
    return this._gpus.get(server) ?? null;
  }

  /**
   * Load the GPUs of `server`: what the last probe saw (no round trip), or
   * with `refresh` a new probe's. A failure keeps what was there.
   */
  async loadGpus(server: string, refresh = false): Promise<void> {
    await this._actions.track(
      `gpus:${server}`,
      async () => {
        const found = await this._api.getServerGpus(server, { refresh });
        if (!this._isDisposed && found) {
          this._gpus.set(server, found);
        }
      },
      () => undefined,
      () => undefined
    );
  }

  /** The kernelspecs of a Jupyter server from the last loadKernelspecs (null until loaded). */
  kernelspecsOf(server: string): readonly IJupyterKernelspec[] | null {
    return this._kernelspecs.get(server) ?? null;
  }

  /**
   * List a Jupyter server's kernelspecs (the server writes ours as it answers,
   * so the kernel picker is refreshed: `profilesChanged`). A failure shows as
   * the action error, with a Retry.
   */
  loadKernelspecs(server: string): Promise<boolean> {
    return this._actions.run(`kernelspecs:${server}`, `List the kernels of ${server}`, async () => {
      const found = await this._api.listJupyterKernelspecs(server);
      if (!this._isDisposed && Array.isArray(found)) {
        this._kernelspecs.set(server, found);
        this._profilesChanged.emit(undefined);
      }
    });
  }

  private _keepProfile(profile: IProfile): IProfile {
    if (!this._isDisposed && profile && typeof profile.name === 'string') {
      this._profiles = [...this._profiles.filter(p => p.name !== profile.name), profile];
      this._emit();
      this._profilesChanged.emit(undefined);
      void this.refresh();
    }
    return profile;
  }

  /** Remove a profile and its kernelspec. */
  removeProfile(name: string): Promise<boolean> {
    return this._actions.run(`remove-profile:${name}`, `Remove profile ${name}`, async () => {
      await this._api.removeProfile(name);
      this._profiles = this._profiles.filter(p => p.name !== name);
      this._profilesChanged.emit(undefined);
    });
  }

  /**
   * Trust the key `server` offers now, if it still has the fingerprint the
   * user compared; rejects with the server's error (a changed key: 409
   * `hostkey_changed`, never accepted). The Security drawer updates.
   */
  async trustHostKey(server: string, fingerprint: string): Promise<IHostKey> {
    const key = await this._api.trustHostKey(server, fingerprint);
    void this.refreshHostKeys();
    return key;
  }

  /** Remove every trusted key of a host (`[127.0.0.1]:2222`, `gpu-box`). */
  removeHostKey(hostId: string): Promise<boolean> {
    return this._actions.run(`remove-hostkey:${hostId}`, `Remove the key of ${hostId}`, async () => {
      await this._api.removeHostKey(hostId);
      this._hostKeys = this._hostKeys.filter(
        k => !(k.host_id === hostId && k.source === 'jupyter-remote')
      );
      await this._refreshHostKeys();
    });
  }

  clearActionError(): void {
    this._actions.clearActionError();
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

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private readonly _api: CatalogModel.IAPI;
  private readonly _interval: number;
  private _servers: readonly IServer[] = [];
  private _profiles: readonly IProfile[] = [];
  private _hostKeys: readonly IHostKey[] = [];
  private _gpus = new Map<string, IServerGpus>();
  private _kernelspecs = new Map<string, readonly IJupyterKernelspec[]>();
  private _hostKeysError: IRemoteError | null = null;
  private _loading = false;
  private _loaded = false;
  private _error: IRemoteError | null = null;
  private _pending: Promise<void> | null = null;
  private _poll: Poll | null = null;
  private _isDisposed = false;
  private readonly _actions = new ActionTracker(
    () => this._emit(),
    () => this._isDisposed
  );
  private _changed = new Signal<this, void>(this);
  private _profilesChanged = new Signal<this, void>(this);
}
