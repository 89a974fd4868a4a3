/**
 * The state of the connect wizard, step by step (Connect -> Environment ->
 * Review), as the wizard model keeps it and the wizard's components read it.
 */
import {
  EnvironmentTool,
  IEnvironment,
  IHostKeyChanged,
  IHostKeyUnknown,
  IProfile,
  IRemoteError,
  ITestResult
} from '../tokens';

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

/** Making a new environment on the server (for a Python pip may not install into). */
export interface ICreateState {
  /** The base interpreter. */
  base: string;
  /** Its name ('' : jupyter-X.Y). */
  name: string;
  tool: EnvironmentTool;
  lines: string[];
  status: 'editing' | 'running' | 'done' | 'error';
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
  /** The Create environment form and its progress, when open. */
  create: ICreateState | null;
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
  /** The kernel's own name in the launcher ('' : automatic). */
  displayName: string;
  /** Keep one kernel started ahead on the remote (a standby). */
  standby: boolean;
  status: 'idle' | 'saving' | 'saved' | 'error';
  error: IRemoteError | null;
  /** Field errors: name, cwd, env, idle_timeout, python. */
  fieldErrors: Record<string, string>;
  profile: IProfile | null;
}

/** Where each step starts. */
export const INITIAL_CONNECT: Readonly<IConnectState> = {
  status: 'idle',
  startedAt: null,
  result: null,
  unknown: null,
  changed: null,
  error: null
};

export const INITIAL_ENVIRONMENT: Readonly<IEnvironmentState> = {
  status: 'idle',
  environments: [],
  error: null,
  selected: null,
  customPath: '',
  useCustom: false,
  install: null,
  create: null
};

export const INITIAL_REVIEW: Readonly<IReviewState> = {
  name: '',
  cwd: '',
  envVars: [],
  idleTimeout: 0,
  displayName: '',
  standby: false,
  status: 'idle',
  error: null,
  fieldErrors: {},
  profile: null
};
