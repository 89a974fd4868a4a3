/**
 * The connect wizard of one server: Connect -> Environment -> Review.
 *
 * Connect tests the server (host key, login); an unknown key can be trusted
 * after the user compared its fingerprint; a changed key can NOT be accepted
 * here (the old entry must be removed first). Environment lists what the
 * server has, grouped by kind, and can install ipykernel or create a new
 * environment (for a system Python pip may not install into, PEP 668). Review
 * names the profile, its working directory (created on request when missing),
 * variables (a GPU picker sets CUDA_VISIBLE_DEVICES) and saves it through the
 * catalog, which refreshes the kernelspecs. With `profile`, the wizard edits
 * that profile: it opens on Review, prefilled, and saves with PATCH.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import { toRemoteError } from '../api';
import {
  EnvironmentTool,
  ICatalogModel,
  IEnvironment,
  IEnvironmentCreate,
  IEnvironmentCreated,
  IGpu,
  IProfile,
  IProfileInput,
  IServerSlurm,
  ITestResult
} from '../tokens';
import { afterFailedTest, afterFailedTrust } from './connect';
import {
  chosenPython,
  envKey,
  environmentBlocker,
  groupEnvironments,
  IEnvironmentGroup,
  preselect,
  selectedEnvironment,
  suggestProfileName
} from './environments';
import {
  clusterOf,
  defaultPartition,
  INITIAL_SLURM,
  ISlurmState,
  SLURM_IDLE_TIMEOUT,
  slurmInput,
  slurmOf,
  validateSlurm
} from './slurm';
import { pinnedGpus, profileInput, reviewOf, saveFieldErrors, toggleGpu, validateReview } from './review';
import {
  IConnectState,
  IEnvironmentState,
  IEnvVarRow,
  INITIAL_CONNECT,
  INITIAL_ENVIRONMENT,
  INITIAL_REVIEW,
  IReviewState,
  WIZARD_STEPS,
  WizardStep
} from './state';

export namespace WizardModel {
  export interface IAPI {
    testServer: (name: string) => Promise<ITestResult>;
    trustHostKey: (server: string, fingerprint: string) => Promise<unknown>;
    listEnvironments: (server: string, options?: { refresh?: boolean }) => Promise<IEnvironment[]>;
    installIpykernel: (server: string, python: string, onOutput: (line: string) => void) => Promise<void>;
    addProfile: (input: IProfileInput, options?: { createCwd?: boolean }) => Promise<IProfile>;
    updateProfile: (
      name: string,
      changes: Partial<IProfileInput>,
      options?: { createCwd?: boolean }
    ) => Promise<IProfile>;
    createEnvironment: (
      server: string,
      input: IEnvironmentCreate,
      onOutput: (line: string) => void
    ) => Promise<IEnvironmentCreated>;
    getServerSlurm: (server: string, options?: { refresh?: boolean }) => Promise<IServerSlurm>;
  }

  export interface IOptions {
    /** The server to connect to. */
    server: string;
    /**
     * The catalog: trusting a key and saving the profile go through it (its
     * lists and the kernelspecs update); names of its profiles are taken.
     */
    catalog?: Pick<ICatalogModel, 'trustHostKey' | 'addProfile' | 'updateProfile' | 'profiles'> | null;
    /** Edit this saved profile (of `server`) instead of adding one. */
    profile?: IProfile | null;
    /** Names of existing profiles (to suggest a free name), besides the catalog's. */
    takenNames?: readonly string[];
    /** Replace REST calls (tests); wins over the catalog. */
    api?: Partial<IAPI>;
    /** Called after a profile was saved. */
    onProfileSaved?: (profile: IProfile) => void | Promise<void>;
    /** Called after a host key was trusted. */
    onHostKeyTrusted?: () => void;
    /** Clock in epoch ms (tests). */
    now?: () => number;
  }
}

const DEFAULT_API: WizardModel.IAPI = {
  testServer: api.testServer,
  trustHostKey: api.trustHostKey,
  listEnvironments: api.listEnvironments,
  installIpykernel: api.installIpykernel,
  addProfile: api.addProfile,
  updateProfile: api.updateProfile,
  createEnvironment: api.createEnvironment,
  getServerSlurm: api.getServerSlurm
};

/** The connect wizard of one server. */
export class WizardModel implements IDisposable {
  constructor(options: WizardModel.IOptions) {
    const catalog = options.catalog ?? null;
    this.server = options.server;
    this._taken = [...(options.takenNames ?? []), ...(catalog?.profiles.map(p => p.name) ?? [])];
    this._api = {
      ...DEFAULT_API,
      ...(catalog
        ? {
            trustHostKey: (server: string, fingerprint: string) => catalog.trustHostKey(server, fingerprint),
            addProfile: (input: IProfileInput, options?: { createCwd?: boolean }) =>
              catalog.addProfile(input, options),
            updateProfile: (name: string, changes: Partial<IProfileInput>, options?: { createCwd?: boolean }) =>
              catalog.updateProfile(name, changes, options)
          }
        : {}),
      ...options.api
    };
    this._onProfileSaved = options.onProfileSaved;
    this._onHostKeyTrusted = options.onHostKeyTrusted;
    this._now = options.now ?? (() => Date.now());
    this.editing = options.profile ?? null;
    if (this.editing) {
      this._step = 'review';
      this._nameEdited = true;
      this._review = { ...this._review, ...reviewOf(this.editing) };
      this._environment = this._environmentOf(this.editing);
      this._slurm = { ...this._slurm, ...slurmOf(this.editing) };
      void this.loadSlurm();
    }
  }

  /** The server this wizard connects to. */
  readonly server: string;

  /** The saved profile this wizard edits, or null when it adds one. */
  readonly editing: IProfile | null;

  get step(): WizardStep {
    return this._step;
  }

  get stepIndex(): number {
    return WIZARD_STEPS.indexOf(this._step);
  }

  get connect(): Readonly<IConnectState> {
    return this._connect;
  }

  get environment(): Readonly<IEnvironmentState> {
    return this._environment;
  }

  get review(): Readonly<IReviewState> {
    return this._review;
  }

  /** Grouped environments for the Environment step. */
  get groups(): IEnvironmentGroup[] {
    return groupEnvironments(this._environment.environments);
  }

  /** The chosen environment entry (null for a custom path or no choice). */
  get selectedEnvironment(): IEnvironment | null {
    return selectedEnvironment(this._environment);
  }

  /** The interpreter the profile will run, or '' if none chosen. */
  get chosenPython(): string {
    return chosenPython(this._environment);
  }

  /** Why Next is disabled on the current step ('' when it is enabled). */
  get blocker(): string {
    switch (this._step) {
      case 'connect':
        return this._connect.status === 'ok'
          ? ''
          : 'Connect to the server first (and trust its host key if asked).';
      case 'environment':
        return environmentBlocker(this._environment);
      case 'review':
        return '';
    }
  }

  get canGoBack(): boolean {
    return this.stepIndex > 0 && this._review.status !== 'saving';
  }

  get canGoNext(): boolean {
    return this._step !== 'review' && this.blocker === '';
  }

  /** Whether the last save failed because the environment has no ipykernel. */
  get needsIpykernel(): boolean {
    return this._review.error?.reason === 'ipykernel_missing';
  }

  /**
   * Whether pip may not install into the chosen Python (PEP 668): what works
   * is a new environment made from it.
   */
  get needsNewEnvironment(): boolean {
    const error = this._review.error ?? this._environment.install?.error ?? null;
    return error?.reason === 'externally_managed' || (error?.reason === 'ipykernel_missing' && this._managed);
  }

  /** Whether the last save failed because the working directory does not exist. */
  get needsCwd(): boolean {
    return this._review.error?.reason === 'cwd_missing';
  }

  /** The server's GPUs (from the connection test), for the GPU picker. */
  get gpus(): IGpu[] {
    return this._connect.result?.gpus?.devices ?? [];
  }

  /** The GPU indices the profile is pinned to (none: all GPUs). */
  get pinnedGpus(): number[] {
    return pinnedGpus(this._review.envVars);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Start the wizard: run the connection test. */
  start(): Promise<void> {
    return this.runTest();
  }

  /** Go to the previous step (editing: the environments load on the way). */
  back(): void {
    if (this.canGoBack) {
      const target = WIZARD_STEPS[this.stepIndex - 1];
      if (target === 'environment' && this._environment.status === 'idle') {
        void this.loadEnvironments();
      }
      this._go(target);
    }
  }

  /** Go to the next step (loads the environments on the way in). */
  next(): void {
    if (!this.canGoNext) {
      return;
    }
    const target = WIZARD_STEPS[this.stepIndex + 1];
    if (target === 'environment' && this._environment.status === 'idle') {
      void this.loadEnvironments();
    }
    if (target === 'review' && !this._nameEdited) {
      const chosen = this._environment.useCustom ? null : this.selectedEnvironment;
      this._review = { ...this._review, name: suggestProfileName(this.server, chosen, this._taken) };
    }
    this._go(target);
  }

  // -------------------------------------------------------------- connect

  /** Test the connection (again). */
  async runTest(): Promise<void> {
    if (this._isDisposed || this._connect.status === 'testing') {
      return;
    }
    this._connect = { ...INITIAL_CONNECT, status: 'testing', startedAt: this._now() };
    this._emit();
    try {
      const result = await this._api.testServer(this.server);
      this._connect = { ...this._connect, status: 'ok', result };
    } catch (error) {
      this._connect = afterFailedTest(this._connect, error);
    }
    this._connect.startedAt = null;
    this._emit();
  }

  /**
   * Trust the unknown key whose fingerprint the user saw, then test again.
   * Never available for a changed key.
   */
  async trust(): Promise<void> {
    const unknown = this._connect.unknown;
    if (this._connect.status !== 'hostkey_unknown' || !unknown) {
      return;
    }
    this._connect = { ...this._connect, status: 'trusting', error: null };
    this._emit();
    try {
      await this._api.trustHostKey(this.server, unknown.fingerprint);
    } catch (error) {
      this._connect = afterFailedTrust(this._connect, error);
      this._emit();
      return;
    }
    this._onHostKeyTrusted?.();
    await this.runTest();
  }

  /** Do not trust the unknown key. */
  cancelTrust(): void {
    if (this._connect.status === 'hostkey_unknown') {
      this._connect = { ...this._connect, status: 'cancelled' };
      this._emit();
    }
  }

  // ---------------------------------------------------------- environment

  /** List the server's environments (refresh: probe again, bypassing the cache). */
  async loadEnvironments(refresh = false): Promise<void> {
    if (this._isDisposed || this._environment.status === 'loading') {
      return;
    }
    this._environment = { ...this._environment, status: 'loading', error: null };
    this._emit();
    try {
      const environments = await this._api.listEnvironments(this.server, { refresh });
      const current = this._environment;
      // a typed path (an edited profile's) that is listed becomes that entry
      const listed = current.useCustom
        ? environments.find(e => e.kind !== 'kernelspec' && e.python === current.customPath.trim())
        : undefined;
      const selected = listed ? envKey(listed) : preselect(environments, current.selected);
      const useCustom = listed ? false : current.useCustom;
      this._environment = { ...current, status: 'ok', environments, selected, useCustom };
    } catch (error) {
      this._environment = { ...this._environment, status: 'error', error: toRemoteError(error) };
    }
    this._emit();
    if (this._environment.status === 'ok') {
      void this.loadSlurm(refresh); // the same probe found it: from its cache
    }
  }

  // ---------------------------------------------------------------- slurm

  /** "Run in a Slurm job": offered when the server's probe found Slurm. */
  get slurm(): Readonly<ISlurmState> {
    return this._slurm;
  }

  /** The server's Slurm (partitions, limits, idle nodes, accounts) from the probe. */
  async loadSlurm(refresh = false): Promise<void> {
    if (this._isDisposed || this._slurm.status === 'loading') {
      return;
    }
    this._slurm = { ...this._slurm, status: 'loading', error: null };
    this._emit();
    try {
      const cluster = clusterOf(await this._api.getServerSlurm(this.server, { refresh }));
      const partition = this._slurm.partition || defaultPartition(cluster);
      this._slurm = { ...this._slurm, status: 'ok', cluster, partition };
    } catch (error) {
      this._slurm = { ...this._slurm, status: 'error', error: toRemoteError(error) };
    }
    this._emit();
  }

  /** Change the Slurm settings; turning them on makes an idle kernel stop (1 h) by default. */
  setSlurm(patch: Partial<ISlurmState>): void {
    if (patch.enabled && !this._slurm.enabled && this._review.idleTimeout === 0) {
      this._review = { ...this._review, idleTimeout: SLURM_IDLE_TIMEOUT };
    }
    this._slurm = { ...this._slurm, ...patch };
    const fieldErrors = { ...this._review.fieldErrors };
    for (const key of Object.keys(patch)) {
      delete fieldErrors[`slurm.${key === 'noticeMinutes' ? 'notice_minutes' : key}`];
    }
    this._review = { ...this._review, fieldErrors };
    this._emit();
  }

  /** Choose a listed environment (by envKey). */
  select(key: string): void {
    this._setEnvironment({ selected: key, useCustom: false });
  }

  /** Type a custom interpreter path (and choose it). */
  setCustomPath(path: string): void {
    this._setEnvironment({ customPath: path, useCustom: true });
  }

  /** Choose between the list and the custom path. */
  setUseCustom(useCustom: boolean): void {
    this._setEnvironment({ useCustom });
  }

  /** pip-install ipykernel into `python`, streaming pip's output; then re-list. */
  async installIpykernel(python: string): Promise<boolean> {
    const current = this._environment.install;
    if (this._isDisposed || !python || (current && current.status === 'running')) {
      return false;
    }
    this._setEnvironment({ install: { python, lines: [], status: 'running', error: null } });
    const append = (line: string): void => {
      const install = this._environment.install;
      if (install && install.python === python) {
        this._setEnvironment({ install: { ...install, lines: [...install.lines, line] } });
      }
    };
    let ok = false;
    try {
      await this._api.installIpykernel(this.server, python, append);
      ok = true;
      this._setEnvironment({ install: { ...this._environment.install!, status: 'done' } });
    } catch (error) {
      const install = { ...this._environment.install!, status: 'error' as const, error: toRemoteError(error) };
      this._setEnvironment({ install });
    }
    if (ok) {
      await this.loadEnvironments(true);
    }
    return ok;
  }

  /** Open the Create environment form from a base interpreter. */
  openCreate(base: string): void {
    if (this._environment.create?.status === 'running') {
      return;
    }
    if (this._step !== 'environment') {
      this._go('environment');
    }
    this._setEnvironment({
      create: { base, name: '', tool: 'venv', lines: [], status: 'editing', error: null }
    });
  }

  /** Change the Create environment form. */
  setCreate(patch: { base?: string; name?: string; tool?: EnvironmentTool }): void {
    const create = this._environment.create;
    if (create && create.status !== 'running') {
      this._setEnvironment({ create: { ...create, ...patch, status: 'editing', error: null } });
    }
  }

  /** Close the Create environment form (not while it runs). */
  closeCreate(): void {
    if (this._environment.create?.status !== 'running') {
      this._setEnvironment({ create: null });
    }
  }

  /**
   * Create the environment on the server, streaming its output; then list the
   * environments again and choose the new one.
   */
  async createEnvironment(): Promise<boolean> {
    const create = this._environment.create;
    if (this._isDisposed || !create || create.status === 'running' || !create.base.trim()) {
      return false;
    }
    this._setEnvironment({ create: { ...create, lines: [], status: 'running', error: null } });
    const append = (line: string): void => {
      const now = this._environment.create;
      if (now) {
        this._setEnvironment({ create: { ...now, lines: [...now.lines, line] } });
      }
    };
    let created: IEnvironmentCreated | null = null;
    try {
      created = await this._api.createEnvironment(
        this.server,
        { python: create.base.trim(), name: create.name.trim() || null, tool: create.tool },
        append
      );
      this._setEnvironment({ create: { ...this._environment.create!, status: 'done' } });
    } catch (error) {
      const failed = { ...this._environment.create!, status: 'error' as const, error: toRemoteError(error) };
      this._setEnvironment({ create: failed });
      return false;
    }
    await this.loadEnvironments(true);
    const made = this._environment.environments.find(e => e.python === created!.python);
    this._setEnvironment(
      made ? { selected: envKey(made), useCustom: false } : { customPath: created.python, useCustom: true }
    );
    if (this._review.status === 'error' && this.needsNewEnvironment) {
      this._review = { ...this._review, status: 'idle', error: null };
    }
    return true;
  }

  // --------------------------------------------------------------- review

  setName(name: string): void {
    this._nameEdited = true;
    this._setReview({ name }, 'name');
  }

  setCwd(cwd: string): void {
    this._setReview({ cwd }, 'cwd');
  }

  setIdleTimeout(seconds: number): void {
    this._setReview({ idleTimeout: seconds }, 'idle_timeout');
  }

  setDisplayName(displayName: string): void {
    this._setReview({ displayName }, 'display_name');
  }

  /** Pin the profile to GPU `index`, or unpin it (the GPU picker). */
  toggleGpu(index: number): void {
    this._setReview({ envVars: toggleGpu(this._review.envVars, index) }, 'env');
  }

  addEnvVar(): void {
    this._setReview({ envVars: [...this._review.envVars, { key: '', value: '' }] }, 'env');
  }

  setEnvVar(index: number, row: Partial<IEnvVarRow>): void {
    const envVars = this._review.envVars.map((r, i) => (i === index ? { ...r, ...row } : r));
    this._setReview({ envVars }, 'env');
  }

  removeEnvVar(index: number): void {
    this._setReview({ envVars: this._review.envVars.filter((_, i) => i !== index) }, 'env');
  }

  /**
   * Start: save the profile (through the catalog, which refreshes the
   * kernelspecs); editing: PATCH it. `createCwd`: make a missing working
   * directory on the server.
   */
  async save(options: { createCwd?: boolean } = {}): Promise<IProfile | null> {
    if (this._isDisposed || this._review.status === 'saving') {
      return null;
    }
    const fieldErrors = { ...validateReview(this._review), ...validateSlurm(this._slurm) };
    if (Object.keys(fieldErrors).length) {
      this._review = { ...this._review, fieldErrors, status: 'idle', error: null };
      this._emit();
      return null;
    }
    this._review = { ...this._review, status: 'saving', error: null, fieldErrors: {} };
    this._emit();
    try {
      const input = profileInput(this.server, this._review, this._environment);
      input.slurm = slurmInput(this._slurm);
      let profile: IProfile;
      if (this.editing) {
        const { name, ...changes } = input;
        changes.display_name = changes.display_name ?? '';
        if (this._environment.status === 'idle') {
          // the Environment step was not opened: the interpreter stays as it is
          delete changes.python;
          delete changes.kernelspec;
        }
        profile = await this._api.updateProfile(name, changes, options);
      } else {
        profile = await this._api.addProfile(input, options);
      }
      this._taken.push(profile.name);
      this._review = { ...this._review, status: 'saved', profile };
      this._emit();
      await this._onProfileSaved?.(profile);
      return profile;
    } catch (error) {
      const remote = toRemoteError(error);
      this._managed = error instanceof api.RemoteAPIError && error.details.externally_managed === true;
      const fieldErrors = saveFieldErrors(error, remote);
      if (remote.field?.startsWith('slurm')) {
        fieldErrors[remote.field] = remote.message; // the Slurm settings' own fields
      }
      this._review = { ...this._review, status: 'error', error: remote, fieldErrors };
      this._emit();
      return null;
    }
  }

  /** Create the missing working directory on the server and save. */
  createCwdAndSave(): Promise<IProfile | null> {
    return this.save({ createCwd: true });
  }

  /** Install ipykernel into the chosen interpreter, then save again. */
  async installAndSave(): Promise<IProfile | null> {
    const python = this.chosenPython;
    if (!python) {
      return null;
    }
    const ok = await this.installIpykernel(python);
    return ok ? this.save() : null;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** The Environment step of an edited profile: its interpreter, as a typed path until listed. */
  private _environmentOf(profile: IProfile): IEnvironmentState {
    if (profile.kernelspec && !profile.python) {
      return { ...INITIAL_ENVIRONMENT, selected: `kernelspec:${profile.kernelspec}` };
    }
    return { ...INITIAL_ENVIRONMENT, customPath: profile.python ?? '', useCustom: true };
  }

  private _setEnvironment(patch: Partial<IEnvironmentState>): void {
    this._environment = { ...this._environment, ...patch };
    this._emit();
  }

  private _setReview(patch: Partial<IReviewState>, field: string): void {
    const fieldErrors = { ...this._review.fieldErrors };
    delete fieldErrors[field];
    this._review = { ...this._review, ...patch, fieldErrors };
    this._emit();
  }

  private _go(step: WizardStep): void {
    this._step = step;
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  private _step: WizardStep = 'connect';
  private _connect: IConnectState = { ...INITIAL_CONNECT };
  private _environment: IEnvironmentState = { ...INITIAL_ENVIRONMENT };
  private _review: IReviewState = { ...INITIAL_REVIEW };
  private _slurm: ISlurmState = { ...INITIAL_SLURM };
  private _nameEdited = false;
  /** The last refused save named a system Python pip may not install into (PEP 668). */
  private _managed = false;
  private readonly _taken: string[];
  private readonly _api: WizardModel.IAPI;
  private readonly _onProfileSaved?: (profile: IProfile) => void | Promise<void>;
  private readonly _onHostKeyTrusted?: () => void;
  private readonly _now: () => number;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
