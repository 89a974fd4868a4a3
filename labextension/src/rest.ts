/**
 * The shapes of the REST answers and bodies of the server extension (see
 * jupyter_remote/openapi.json). Types only, plus the order of environment kinds.
 * The sessions the REST answers list are the generated `ISession` of events.ts.
 */
import type { ISession } from './events';

/** How a server authenticates. */
export type AuthMethod = 'key' | 'password' | 'agent';

/**
 * How kernel channels reach the relay beside each kernel: `unix` (a socket in
 * a private directory) or, by explicit choice for an sshd that forbids socket
 * forwarding, `tcp` (a token-protected port on the remote's 127.0.0.1).
 */
export type ChannelTransport = 'unix' | 'tcp';

/**
 * A saved server, as `GET remote/servers` returns it. Secrets never travel:
 * `has_secret` only says whether a password/passphrase is stored.
 */
export interface IServer {
  /** Unique name the user chose. */
  name: string;
  /** Host name or address. */
  host: string;
  /** SSH port; null means the SSH default (or ~/.ssh/config). */
  port: number | null;
  /** Remote user; null means the SSH default. */
  user: string | null;
  /** Path of the private key file, if any. */
  identity: string | null;
  /** Authentication method. */
  auth: AuthMethod;
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
  host?: string;
  port?: number | null;
  user?: string | null;
  identity?: string | null;
  auth?: AuthMethod;
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
  /** Seconds; 0 means never. */
  idle_timeout?: number;
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
  display_name: string | null;
  readonly: boolean;
  /** `remote-<name>`: the kernelspec the launcher and kernel picker show. */
  kernel_name: string;
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
}

/** One NDJSON line of `POST remote/servers/{name}/install-ipykernel`. */
export type InstallLine =
  | { type: 'output'; line: string }
  | { type: 'done'; ok: boolean }
  | { type: 'error'; message: string; reason: string; hint: string };
