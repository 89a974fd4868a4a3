/**
 * The connect wizard's state, shared by its steps' actions (environmentSteps.ts,
 * model.ts): the REST calls it uses, the three steps' states, what is derived
 * from them (blockers, the chosen interpreter, what a failed save needs), and the
 * `changed` signal. WizardModel (model.ts) is the class the views and plugins use.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import {
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
import { chosenPython, environmentBlocker, groupEnvironments, IEnvironmentGroup, selectedEnvironment } from './environments';
import { INITIAL_SLURM, ISlurmState, slurmOf } from './slurm';
import { pinnedGpus, reviewOf } from './review';
import {
  IConnectState,
  IEnvironmentState,
  INITIAL_CONNECT,
  INITIAL_ENVIRONMENT,
  INITIAL_REVIEW,
  IReviewState,
  WIZARD_STEPS,
  WizardStep
} from './state';

export interface IWizardAPI {
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

export interface IWizardOptions {
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
  api?: Partial<IWizardAPI>;
  /** Called after a profile was saved. */
  onProfileSaved?: (profile: IProfile) => void | Promise<void>;
  /** Called after a host key was trusted. */
  onHostKeyTrusted?: () => void;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

const DEFAULT_API: IWizardAPI = {
  testServer: api.testServer,
  trustHostKey: api.trustHostKey,
  listEnvironments: api.listEnvironments,
  installIpykernel: api.installIpykernel,
  addProfile: api.addProfile,
  updateProfile: api.updateProfile,
  createEnvironment: api.createEnvironment,
  getServerSlurm: api.getServerSlurm
};

/** The wizard's state and what is derived from it; the steps' actions extend it. */
export abstract class WizardState implements IDisposable {
  constructor(options: IWizardOptions) {
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

  /** "Run in a Slurm job": offered when the server's probe found Slurm. */
  get slurm(): Readonly<ISlurmState> {
    return this._slurm;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** The Environment step of an edited profile: its interpreter, as a typed path until listed. */
  protected _environmentOf(profile: IProfile): IEnvironmentState {
    if (profile.kernelspec && !profile.python) {
      return { ...INITIAL_ENVIRONMENT, selected: `kernelspec:${profile.kernelspec}` };
    }
    return { ...INITIAL_ENVIRONMENT, customPath: profile.python ?? '', useCustom: true };
  }

  protected _setEnvironment(patch: Partial<IEnvironmentState>): void {
    this._environment = { ...this._environment, ...patch };
    this._emit();
  }

  protected _setReview(patch: Partial<IReviewState>, field: string): void {
    const fieldErrors = { ...this._review.fieldErrors };
    delete fieldErrors[field];
    this._review = { ...this._review, ...patch, fieldErrors };
    this._emit();
  }

  protected _go(step: WizardStep): void {
    this._step = step;
    this._emit();
  }

  protected _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit(undefined);
    }
  }

  protected _step: WizardStep = 'connect';
  protected _connect: IConnectState = { ...INITIAL_CONNECT };
  protected _environment: IEnvironmentState = { ...INITIAL_ENVIRONMENT };
  protected _review: IReviewState = { ...INITIAL_REVIEW };
  protected _slurm: ISlurmState = { ...INITIAL_SLURM };
  protected _nameEdited = false;
  /** The last refused save named a system Python pip may not install into (PEP 668). */
  protected _managed = false;
  protected readonly _taken: string[];
  protected readonly _api: IWizardAPI;
  protected readonly _onProfileSaved?: (profile: IProfile) => void | Promise<void>;
  protected readonly _onHostKeyTrusted?: () => void;
  protected readonly _now: () => number;
  protected _isDisposed = false;
  protected _changed = new Signal<this, void>(this);
}
