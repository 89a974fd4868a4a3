/**
 * The connect wizard of one server: Connect -> Environment -> Review.
 *
 * Connect tests the server (host key, login); an unknown key can be trusted
 * after the user compared its fingerprint; a changed key can NOT be accepted
 * here (the old entry must be removed first). Environment lists what the
 * server has, grouped by kind, and can install ipykernel. Review saves the
 * profile through the catalog, which refreshes the kernelspecs.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import { toRemoteError } from '../api';
import { ICatalogModel, IEnvironment, IProfile, IProfileInput, ITestResult } from '../tokens';
import { afterFailedTest, afterFailedTrust } from './connect';
import {
  chosenPython,
  environmentBlocker,
  groupEnvironments,
  IEnvironmentGroup,
  preselect,
  selectedEnvironment,
  suggestProfileName
} from './environments';
import { profileInput, saveFieldErrors, validateReview } from './review';
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
    addProfile: (input: IProfileInput) => Promise<IProfile>;
  }

  export interface IOptions {
    /** The server to connect to. */
    server: string;
    /**
     * The catalog: trusting a key and saving the profile go through it (its
     * lists and the kernelspecs update); names of its profiles are taken.
     */
    catalog?: Pick<ICatalogModel, 'trustHostKey' | 'addProfile' | 'profiles'> | null;
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
  addProfile: api.addProfile
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
            addProfile: (input: IProfileInput) => catalog.addProfile(input)
          }
        : {}),
      ...options.api
    };
    this._onProfileSaved = options.onProfileSaved;
    this._onHostKeyTrusted = options.onHostKeyTrusted;
    this._now = options.now ?? (() => Date.now());
  }

  /** The server this wizard connects to. */
  readonly server: string;

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

  /** Go to the previous step. */
  back(): void {
    if (this.canGoBack) {
      this._go(WIZARD_STEPS[this.stepIndex - 1]);
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
      const selected = preselect(environments, this._environment.selected);
      this._environment = { ...this._environment, status: 'ok', environments, selected };
    } catch (error) {
      this._environment = { ...this._environment, status: 'error', error: toRemoteError(error) };
    }
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

  /** Start: save the profile (through the catalog, which refreshes the kernelspecs). */
  async save(): Promise<IProfile | null> {
    if (this._isDisposed || this._review.status === 'saving') {
      return null;
    }
    const fieldErrors = validateReview(this._review);
    if (Object.keys(fieldErrors).length) {
      this._review = { ...this._review, fieldErrors, status: 'idle', error: null };
      this._emit();
      return null;
    }
    this._review = { ...this._review, status: 'saving', error: null, fieldErrors: {} };
    this._emit();
    try {
      const profile = await this._api.addProfile(profileInput(this.server, this._review, this._environment));
      this._taken.push(profile.name);
      this._review = { ...this._review, status: 'saved', profile };
      this._emit();
      await this._onProfileSaved?.(profile);
      return profile;
    } catch (error) {
      const remote = toRemoteError(error);
      const fieldErrors = saveFieldErrors(error, remote);
      this._review = { ...this._review, status: 'error', error: remote, fieldErrors };
      this._emit();
      return null;
    }
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
  private _nameEdited = false;
  private readonly _taken: string[];
  private readonly _api: WizardModel.IAPI;
  private readonly _onProfileSaved?: (profile: IProfile) => void | Promise<void>;
  private readonly _onHostKeyTrusted?: () => void;
  private readonly _now: () => number;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
