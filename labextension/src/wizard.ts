/**
 * State of the connect wizard of one server: Connect -> Environment -> Review.
 *
 * Connect tests the server (host key, login); an unknown key can be trusted
 * after the user compared its fingerprint; a changed key can NOT be accepted
 * here (the old entry must be removed first). Environment lists what the
 * server has, grouped by kind, and can install ipykernel. Review saves the
 * profile, after which the widget refreshes the kernelspecs.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';

import * as api from './api';
import { hostKeyChanged, hostKeyUnknown, RemoteAPIError, toRemoteError } from './api';
import {
  ENV_KINDS,
  IEnvironment,
  IHostKeyChanged,
  IHostKeyUnknown,
  IProfile,
  IProfileInput,
  IRemoteError,
  ITestResult
} from './tokens';

export type WizardStep = 'connect' | 'environment' | 'review';

export const WIZARD_STEPS: readonly WizardStep[] = ['connect', 'environment', 'review'];

export const STEP_LABELS: Record<WizardStep, string> = {
  connect: 'Connect',
  environment: 'Environment',
  review: 'Review'
};

export type ConnectStatus =
  | 'idle'
  | 'testing'
  | 'ok'
  | 'hostkey_unknown'
  | 'trusting'
  | 'hostkey_changed'
  | 'cancelled'
  | 'error';

export interface IConnectState {
  status: ConnectStatus;
  /** Epoch ms when the current test started (for the elapsed time). */
  startedAt: number | null;
  result: ITestResult | null;
  unknown: IHostKeyUnknown | null;
  changed: IHostKeyChanged | null;
  error: IRemoteError | null;
}

export interface IInstallState {
  python: string;
  lines: string[];
  status: 'running' | 'done' | 'error';
  error: IRemoteError | null;
}

export interface IEnvironmentState {
  status: 'idle' | 'loading' | 'ok' | 'error';
  environments: IEnvironment[];
  error: IRemoteError | null;
  /** Key of the chosen environment (see envKey), or null. */
  selected: string | null;
  /** Interpreter path typed by the user. */
  customPath: string;
  /** Whether the custom path is the choice. */
  useCustom: boolean;
  install: IInstallState | null;
}

export interface IEnvVarRow {
  key: string;
  value: string;
}

export interface IReviewState {
  name: string;
  cwd: string;
  envVars: IEnvVarRow[];
  /** Seconds; 0 = never. */
  idleTimeout: number;
  status: 'idle' | 'saving' | 'saved' | 'error';
  error: IRemoteError | null;
  /** Field errors: name, cwd, env, idle_timeout, python. */
  fieldErrors: Record<string, string>;
  profile: IProfile | null;
}

/** A group of environments of one kind, in display order. */
export interface IEnvironmentGroup {
  kind: string;
  label: string;
  environments: IEnvironment[];
}

const KIND_LABELS: Record<string, string> = {
  conda: 'Conda environments',
  uv: 'uv environments',
  venv: 'Virtual environments (venv)',
  virtualenv: 'Virtual environments (virtualenv)',
  pyenv: 'pyenv interpreters',
  system: 'System Python',
  kernelspec: 'Other kernels (kernelspecs)'
};

/** Human heading of a kind. */
export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

/** A stable key for an environment entry (a kernelspec and its python may share a path). */
export function envKey(env: IEnvironment): string {
  return env.kind === 'kernelspec' ? `kernelspec:${env.name}` : `python:${env.python}`;
}

/** Environments grouped by kind, known kinds first in ENV_KINDS order. */
export function groupEnvironments(envs: readonly IEnvironment[]): IEnvironmentGroup[] {
  const order = [...ENV_KINDS] as string[];
  for (const env of envs) {
    if (!order.includes(env.kind)) {
      order.push(env.kind);
    }
  }
  return order
    .map(kind => ({
      kind,
      label: kindLabel(kind),
      environments: envs.filter(e => e.kind === kind)
    }))
    .filter(group => group.environments.length > 0);
}

/** Profile names the server accepts: `[A-Za-z0-9._-]{1,64}`. */
export const PROFILE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Environment variable names the server accepts. */
export const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A profile name made of the server's and the environment's names. */
export function suggestProfileName(
  server: string,
  env: Pick<IEnvironment, 'name' | 'version'> | null,
  taken: readonly string[] = []
): string {
  const envPart = env ? env.name || (env.version ? `py${env.version}` : '') : 'custom';
  let base = [server, envPart]
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|-+$/g, '');
  base = (base || 'profile').slice(0, 60);
  let name = base;
  for (let i = 2; taken.includes(name); i++) {
    name = `${base}-${i}`;
  }
  return name;
}

/** The idle timeouts offered, in seconds (0 = never). */
export const IDLE_TIMEOUTS: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 0, label: 'Never' },
  { seconds: 15 * 60, label: '15 minutes' },
  { seconds: 60 * 60, label: '1 hour' },
  { seconds: 4 * 60 * 60, label: '4 hours' },
  { seconds: 24 * 60 * 60, label: '1 day' },
  { seconds: 7 * 24 * 60 * 60, label: '1 week' }
];

export namespace WizardModel {
  export interface IAPI {
    testServer: (name: string) => Promise<ITestResult>;
    trustHostKey: (server: string, fingerprint: string) => Promise<unknown>;
    listEnvironments: (
      server: string,
      options?: { refresh?: boolean }
    ) => Promise<IEnvironment[]>;
    installIpykernel: (
      server: string,
      python: string,
      onOutput: (line: string) => void
    ) => Promise<void>;
    addProfile: (input: IProfileInput) => Promise<IProfile>;
  }

  export interface IOptions {
    /** The server to connect to. */
    server: string;
    /** Names of existing profiles (to suggest a free name). */
    takenNames?: readonly string[];
    /** Replace REST calls (tests). */
    api?: Partial<IAPI>;
    /** Called after a profile was saved (refresh kernelspecs, the sidebar). */
    onProfileSaved?: (profile: IProfile) => void | Promise<void>;
    /** Called after a host key was trusted (refresh the Security drawer). */
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
    this.server = options.server;
    this._taken = [...(options.takenNames ?? [])];
    this._api = { ...DEFAULT_API, ...options.api };
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
    const env = this._environment;
    if (env.useCustom || env.selected === null) {
      return null;
    }
    return env.environments.find(e => envKey(e) === env.selected) ?? null;
  }

  /** The interpreter the profile will run, or '' if none chosen. */
  get chosenPython(): string {
    const env = this._environment;
    if (env.useCustom) {
      return env.customPath.trim();
    }
    const chosen = this.selectedEnvironment;
    return chosen && chosen.kind !== 'kernelspec' ? chosen.python : '';
  }

  /** Why Next is disabled on the current step ('' when it is enabled). */
  get blocker(): string {
    switch (this._step) {
      case 'connect':
        return this._connect.status === 'ok'
          ? ''
          : 'Connect to the server first (and trust its host key if asked).';
      case 'environment': {
        const env = this._environment;
        if (env.useCustom) {
          const path = env.customPath.trim();
          if (!path) {
            return 'Type the path of a Python interpreter on the server.';
          }
          if (!path.startsWith('/') && !path.startsWith('~/')) {
            return 'The path must be absolute (or start with ~/).';
          }
          return '';
        }
        const chosen = this.selectedEnvironment;
        if (!chosen) {
          return 'Choose an environment, or type an interpreter path.';
        }
        if (chosen.kind !== 'kernelspec' && !chosen.ipykernel) {
          return 'This environment has no ipykernel: install it, or choose another one.';
        }
        return '';
      }
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
      const chosen = this.selectedEnvironment;
      this._review = {
        ...this._review,
        name: suggestProfileName(
          this.server,
          this._environment.useCustom ? null : chosen,
          this._taken
        )
      };
    }
    this._go(target);
  }

  // -------------------------------------------------------------- connect

  /** Test the connection (again). */
  async runTest(): Promise<void> {
    if (this._isDisposed || this._connect.status === 'testing') {
      return;
    }
    this._connect = {
      status: 'testing',
      startedAt: this._now(),
      result: null,
      unknown: null,
      changed: null,
      error: null
    };
    this._emit();
    try {
      const result = await this._api.testServer(this.server);
      this._connect = { ...this._connect, status: 'ok', result };
    } catch (error) {
      const unknown = hostKeyUnknown(error);
      const changed = hostKeyChanged(error);
      if (unknown) {
        this._connect = { ...this._connect, status: 'hostkey_unknown', unknown };
      } else if (changed) {
        this._connect = { ...this._connect, status: 'hostkey_changed', changed };
      } else {
        this._connect = {
          ...this._connect,
          status: 'error',
          error: toRemoteError(error)
        };
      }
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
      const changed = hostKeyChanged(error);
      if (changed) {
        this._connect = { ...this._connect, status: 'hostkey_changed', changed, unknown: null };
      } else {
        // still unknown: keep the prompt and show why trusting failed
        this._connect = {
          ...this._connect,
          status: 'hostkey_unknown',
          error: toRemoteError(error)
        };
      }
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
      const keys = environments.map(envKey);
      let selected = this._environment.selected;
      if (selected === null || !keys.includes(selected)) {
        // preselect the first usable Python environment
        const usable = environments.find(e => e.kind !== 'kernelspec' && e.ipykernel && !e.error);
        selected = usable ? envKey(usable) : null;
      }
      this._environment = {
        ...this._environment,
        status: 'ok',
        environments,
        selected
      };
    } catch (error) {
      this._environment = {
        ...this._environment,
        status: 'error',
        error: toRemoteError(error)
      };
    }
    this._emit();
  }

  /** Choose a listed environment (by envKey). */
  select(key: string): void {
    this._environment = { ...this._environment, selected: key, useCustom: false };
    this._emit();
  }

  /** Type a custom interpreter path (and choose it). */
  setCustomPath(path: string): void {
    this._environment = { ...this._environment, customPath: path, useCustom: true };
    this._emit();
  }

  /** Choose between the list and the custom path. */
  setUseCustom(useCustom: boolean): void {
    this._environment = { ...this._environment, useCustom };
    this._emit();
  }

  /** pip-install ipykernel into `python`, streaming pip's output; then re-list. */
  async installIpykernel(python: string): Promise<boolean> {
    const current = this._environment.install;
    if (this._isDisposed || !python || (current && current.status === 'running')) {
      return false;
    }
    this._environment = {
      ...this._environment,
      install: { python, lines: [], status: 'running', error: null }
    };
    this._emit();
    const append = (line: string): void => {
      const install = this._environment.install;
      if (!install || install.python !== python) {
        return;
      }
      this._environment = {
        ...this._environment,
        install: { ...install, lines: [...install.lines, line] }
      };
      this._emit();
    };
    let ok = false;
    try {
      await this._api.installIpykernel(this.server, python, append);
      ok = true;
      this._environment = {
        ...this._environment,
        install: { ...this._environment.install!, status: 'done' }
      };
    } catch (error) {
      this._environment = {
        ...this._environment,
        install: { ...this._environment.install!, status: 'error', error: toRemoteError(error) }
      };
    }
    this._emit();
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

  /** Client-side checks of the Review form; field -> message. */
  validateReview(): Record<string, string> {
    const errors: Record<string, string> = {};
    const r = this._review;
    if (!PROFILE_NAME_RE.test(r.name.trim())) {
      errors.name = 'Use 1 to 64 letters, digits, dots, dashes or underscores.';
    }
    const cwd = r.cwd.trim();
    if (cwd && !cwd.startsWith('/') && !cwd.startsWith('~/') && cwd !== '~') {
      errors.cwd = 'Use an absolute path on the server (or one starting with ~/).';
    }
    const seen = new Set<string>();
    for (const row of r.envVars) {
      const key = row.key.trim();
      if (!key && !row.value) {
        continue;
      }
      if (!ENV_VAR_RE.test(key)) {
        errors.env = `"${key}" is not a valid variable name (letters, digits, _; not starting with a digit).`;
        break;
      }
      if (seen.has(key)) {
        errors.env = `${key} is set twice.`;
        break;
      }
      seen.add(key);
    }
    return errors;
  }

  /** The body of POST remote/profiles for the current choices. */
  profileInput(): IProfileInput {
    const r = this._review;
    const env: Record<string, string> = {};
    for (const row of r.envVars) {
      if (row.key.trim()) {
        env[row.key.trim()] = row.value;
      }
    }
    const input: IProfileInput = {
      name: r.name.trim(),
      server: this.server,
      cwd: r.cwd.trim() || null,
      env,
      idle_timeout: r.idleTimeout
    };
    const chosen = this.selectedEnvironment;
    if (!this._environment.useCustom && chosen && chosen.kind === 'kernelspec') {
      input.kernelspec = chosen.name;
    } else {
      input.python = this.chosenPython;
    }
    return input;
  }

  /** Start: save the profile (the widget refreshes kernelspecs in onProfileSaved). */
  async save(): Promise<IProfile | null> {
    if (this._isDisposed || this._review.status === 'saving') {
      return null;
    }
    const fieldErrors = this.validateReview();
    if (Object.keys(fieldErrors).length) {
      this._review = { ...this._review, fieldErrors, status: 'idle', error: null };
      this._emit();
      return null;
    }
    this._review = { ...this._review, status: 'saving', error: null, fieldErrors: {} };
    this._emit();
    try {
      const profile = await this._api.addProfile(this.profileInput());
      this._taken.push(profile.name);
      this._review = { ...this._review, status: 'saved', profile };
      this._emit();
      await this._onProfileSaved?.(profile);
      return profile;
    } catch (error) {
      const remote = toRemoteError(error);
      const fieldErrors: Record<string, string> = {};
      let field = remote.field;
      if (!field && error instanceof RemoteAPIError && error.reason === 'conflict') {
        field = 'name';
      }
      if (field && ['name', 'cwd', 'env', 'idle_timeout'].includes(field)) {
        fieldErrors[field] = remote.message;
      }
      this._review = { ...this._review, status: 'error', error: remote, fieldErrors };
      this._emit();
      return null;
    }
  }

  /** Whether the last save failed because the environment has no ipykernel. */
  get needsIpykernel(): boolean {
    return this._review.error?.reason === 'ipykernel_missing';
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

  private _setReview(patch: Partial<IReviewState>, field: string): void {
    const fieldErrors = { ...this._review.fieldErrors };
    delete fieldErrors[field];
    this._review = {
      ...this._review,
      ...patch,
      fieldErrors,
      status: this._review.status === 'saved' ? 'saved' : this._review.status
    };
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
  private _connect: IConnectState = {
    status: 'idle',
    startedAt: null,
    result: null,
    unknown: null,
    changed: null,
    error: null
  };
  private _environment: IEnvironmentState = {
    status: 'idle',
    environments: [],
    error: null,
    selected: null,
    customPath: '',
    useCustom: false,
    install: null
  };
  private _review: IReviewState = {
    name: '',
    cwd: '',
    envVars: [],
    idleTimeout: 0,
    status: 'idle',
    error: null,
    fieldErrors: {},
    profile: null
  };
  private _nameEdited = false;
  private readonly _taken: string[];
  private readonly _api: WizardModel.IAPI;
  private readonly _onProfileSaved?: (profile: IProfile) => void | Promise<void>;
  private readonly _onHostKeyTrusted?: () => void;
  private readonly _now: () => number;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
