/**
 * The shapes of the REST answers and bodies of the server extension (see
 * jupyter_remote/openapi.json). Types only, plus the order of environment kinds.
 * The sessions the REST answers list are the generated `ISession` of events.ts;
 * the Slurm shapes are in restSlurm.ts (re-exported here).
 */
import type { ISession, ISlurmJob } from './events';
import type { ISlurmSettings } from './restSlurm';

export * from './restSlurm';

/** How a server authenticates. */
export type AuthMethod = 'key' | 'password' | 'agent';

/**
 * How kernel channels reach the relay beside each kernel: `unix` (a socket in
 * a private directory) or, by explicit choice for an sshd that forbids socket
 * forwarding, `tcp` (a token-protected port on the remote's 127.0.0.1) or `exec`
 * (the relay's stream over an exec channel: for an sshd that forbids all forwarding).
 */
/** Which kind of saved server. */
export type ServerKind = 'ssh' | 'jupyter';

/** How a Jupyter server checks who we are. */
export type JupyterAuthMethod = 'token' | 'password' | 'none';

/** One kernelspec of a Jupyter server (`GET remote/servers/{name}/environments`). */
export interface IJupyterKernelspec {
  /** The remote server's kernelspec name, e.g. `python3`. */
  name: string;
  kind: 'jupyter-kernelspec';
  /** As the kernel picker shows it: "Python 3 (ipykernel) — lab (Jupyter)". */
  display_name: string;
  language: string;
  /** Our kernelspec that starts it: `remote-<server>--<name>`. */
  kernel_name: string;
  /** The server's default kernel (or the one saved with it). */
  default: boolean;
  debugger?: boolean;
}

export type ChannelTransport = 'unix' | 'tcp' | 'exec';

/**
 * A saved server, as `GET remote/servers` returns it. Secrets never travel:
 * `has_secret` only says whether a password/passphrase is stored.
 */
export interface IServer {
  /** Unique name the user chose. */
  name: string;
  /**
   * `ssh`: a host we run kernels on over SSH; `jupyter`: a Jupyter server that
   * already runs elsewhere (then `url`, `via`, `default_kernel`, `ca_file`
   * describe it and the SSH fields are absent). Absent means `ssh`.
   */
  kind?: ServerKind;
  /** Jupyter server: its base URL (ends with `/`). */
  url?: string;
  /** Jupyter server: the saved SSH server it is reached through, or null. */
  via?: string | null;
  /** Jupyter server: the kernel its notebooks start by default, or null. */
  default_kernel?: string | null;
  /** Jupyter server: an extra CA (PEM file on this machine) its HTTPS may chain to. */
  ca_file?: string | null;
  /** Host name or address. */
  host: string;
  /** SSH port; null means the SSH default (or ~/.ssh/config). */
  port: number | null;
  /** Remote user; null means the SSH default. */
  user: string | null;
  /** Path of the private key file, if any. */
  identity: string | null;
  /** Authentication method (a Jupyter server's: `token`, `password` or `none`). */
  auth: AuthMethod | JupyterAuthMethod;
  /** Jump host as `[user@]host[:port]`, or null. */
  jump: string | null;
  /** How kernel channels reach the remote relay. */
  channel_transport: ChannelTransport;
  /** What the user should keep in mind about these settings: shown on the card. */
  warnings: string[];
  /** Defined by an administrator in config: not editable from the UI. */
  readonly: boolean;
  /** Whether a password or key passphrase is stored for it. */
  has_secret: boolean;
}

/** Body of `POST remote/servers` and `PATCH remote/servers/{name}`. */
export interface IServerInput {
  name?: string;
  /** `jupyter` for a Jupyter server (with `url`); absent or `ssh` for an SSH host. */
  kind?: ServerKind;
  url?: string;
  via?: string | null;
  default_kernel?: string | null;
  ca_file?: string | null;
  /** Write-only: a Jupyter server's token, kept in the keyring or process memory. */
  token?: string;
  host?: string;
  port?: number | null;
  user?: string | null;
  identity?: string | null;
  auth?: AuthMethod | JupyterAuthMethod;
  jump?: string | null;
  channel_transport?: ChannelTransport;
  /** Write-only: kept in the keyring or process memory, never on disk. */
  password?: string;
  /** Write-only: passphrase of the key file. */
  passphrase?: string;
}

/**
 * An error as the server extension reports it (and as the UI shows it):
 * what went wrong, a machine-readable reason, and what to do about it.
 */
export interface IRemoteError {
  message: string;
  reason: string;
  hint: string;
  /** HTTP status (0: the Jupyter server was not reachable). */
  status?: number;
  /** The input field a 400 answer is about (server form, profile form). */
  field?: string;
}

/** Host key as reported by a successful test. */
export interface ITestHostKey {
  host_id?: string;
  type?: string;
  key_type?: string;
  fingerprint?: string;
  status?: string;
  source?: string;
}

/** `POST remote/servers/{name}/test` answer (200). */
export interface ITestResult {
  server: string;
  endpoint: string;
  reachable: boolean;
  auth: string;
  auth_method: string;
  host_key: ITestHostKey;
  connect_ms: number;
  rtt_ms: number;
  os: string;
  python: { path: string | null; version: string | null };
  /** The server's GPUs (null: no nvidia-smi there). */
  gpus?: IGpus | null;
}

/** One GPU as nvidia-smi reports it (null: not reported, `[N/A]`). */
export interface IGpu {
  index: number;
  uuid: string;
  name: string;
  memory_used_mib: number | null;
  memory_total_mib: number | null;
  utilization_percent: number | null;
  /** Compute processes using it. */
  processes: number;
}

/** A server's GPUs; `error` says why they could not be listed (no driver...). */
export interface IGpus {
  devices: IGpu[];
  error: string | null;
}

/** `GET remote/servers/{name}/gpus`: what the last environment probe saw. */
export interface IServerGpus {
  server: string;
  gpus: IGpus | null;
  /** Epoch seconds; null when the server was never probed. */
  probed_at: number | null;
}

/** How `POST remote/servers/{name}/environments` makes an environment. */
export type EnvironmentTool = 'venv' | 'uv' | 'conda';

/** Body of `POST remote/servers/{name}/environments`. */
export interface IEnvironmentCreate {
  /** The base interpreter. */
  python: string;
  /** Default: jupyter-X.Y. */
  name?: string | null;
  tool?: EnvironmentTool;
}

/** The environment made (the last NDJSON line's `environment`). */
export interface IEnvironmentCreated {
  python: string;
  path: string;
  tool: string;
  name: string;
}

/** Details of a 409 `hostkey_unknown` answer. */
export interface IHostKeyUnknown {
  reason: 'hostkey_unknown';
  host_id: string;
  key_type: string;
  fingerprint: string;
  message: string;
  hint: string;
}

/** Details of a 409 `hostkey_changed` answer: never acceptable from the UI. */
export interface IHostKeyChanged {
  reason: 'hostkey_changed';
  host_id: string;
  key_type: string;
  fingerprint: string;
  known_fingerprints: string[];
  message: string;
  hint: string;
}

/**
 * A row of `GET remote/hostkeys`: a trusted key (ours, or a known_hosts entry), or
 * with source `warning` a known_hosts line or file that was skipped.
 */
export interface IHostKey {
  /** Host pattern as written; `(hashed)` for a hashed entry. */
  host_id: string;
  key_type: string;
  fingerprint: string;
  /** ISO date; absent for keys read from known_hosts files. */
  added?: string;
  source: 'jupyter-remote' | 'known_hosts' | 'warning' | string;
  /** The known_hosts file it was read from. */
  file?: string;
  /** Line number in `file` (0: the whole file). */
  line?: number;
  /** `@revoked` (never trusted) or `@cert-authority` (signs host certificates). */
  marker?: 'revoked' | 'cert-authority' | null;
  hashed?: boolean;
  /** Why the line or file was skipped (source `warning`). */
  warning?: string;
}

/** Kinds of environments, in the order the wizard groups them. */
export const ENV_KINDS = [
  'conda',
  'uv',
  'venv',
  'virtualenv',
  'pyenv',
  'system',
  'kernelspec'
] as const;

export type EnvironmentKind = (typeof ENV_KINDS)[number];

/** A Python environment (or a non-Python kernelspec) found on a server. */
export interface IEnvironment {
  /** Absolute interpreter path (a kernelspec's argv[0]). */
  python: string;
  kind: EnvironmentKind | string;
  name: string;
  /** Python version; empty if unknown. */
  version: string;
  ipykernel: boolean;
  /** Env prefix or kernelspec directory. */
  path: string;
  source?: string;
  /** Why the interpreter could not be checked. */
  error?: string | null;
  /** kernelspec only */
  display_name?: string;
  /** kernelspec only */
  language?: string;
}

/** Body of `POST remote/profiles`. */
export interface IProfileInput {
  name: string;
  server: string;
  python?: string | null;
  kernelspec?: string | null;
  cwd?: string | null;
  env?: Record<string, string>;
  /** Seconds (0 means never), or a duration the server parses: '15m', '1h30m', 'never'. */
  idle_timeout?: number | string;
  /** The kernel's name in the launcher and picker; null or '': automatic. */
  display_name?: string | null;
  /** Run the kernel in a Slurm job submitted from this server; null: on the server. */
  slurm?: ISlurmSettings | null;
  /** Keep one kernel started ahead on the remote: a start takes it (not with slurm). */
  standby?: boolean;
}

/** A saved profile (`GET remote/profiles`). */
export interface IProfile {
  name: string;
  server: string;
  python: string | null;
  kernelspec: string | null;
  cwd: string | null;
  env: Record<string, string>;
  idle_timeout: number;
  /** What the launcher and the kernel picker show. */
  display_name: string | null;
  /** The user's own display name; null: the automatic one. */
  custom_display_name?: string | null;
  /** Learned from the interpreter when saved. */
  python_version?: string | null;
  env_name?: string | null;
  readonly: boolean;
  /** `remote-<name>`: the kernelspec the launcher and kernel picker show. */
  kernel_name: string;
  /** Its Slurm job settings when it runs in a job (null: on the server itself). */
  slurm?: ISlurmSettings | null;
  /** It keeps one kernel started ahead on the remote (a standby a start takes). */
  standby?: boolean;
}

/** States of a session, in the server's words (from the session event schema). */
export type SessionState = ISession['state'];

/** Body of `POST remote/forwards`. */
export interface IForwardInput {
  server: string;
  remote_port: number;
  local_port?: number | null;
}

/** A kernel our agent started on a server (`GET remote/servers/{name}/kernels`). */
export interface IRemoteKernel {
  kernel_id: string;
  /** running, starting or dead. */
  state: string;
  server?: string | null;
  idle_timeout?: number | null;
  /** Why it ended (dead kernels). */
  reason?: string | null;
  pid?: number | null;
  profile?: string;
  python?: string | null;
  cwd?: string | null;
  started?: number | null;
  /** Kernels in a Slurm job: the job (state is then queued, running or dead). */
  job?: ISlurmJob;
  /** Kernels of a Jupyter server: its kernelspec name there, and idle or busy. */
  kernel_name?: string;
  execution_state?: string;
  /** A profile's standby kernel, nobody's until a start of the profile takes it. */
  standby?: boolean;
  /** Running kernels: its memory on the remote (kernel and supervisor resident, bytes). */
  rss?: number;
}

/**
 * One NDJSON line of `POST remote/servers/{name}/install-ipykernel` and of
 * `POST remote/servers/{name}/environments` (whose done line carries the environment).
 */
export type InstallLine =
  | { type: 'output'; line: string }
  | { type: 'done'; ok: boolean; environment?: IEnvironmentCreated }
  | { type: 'error'; message: string; reason: string; hint: string };
