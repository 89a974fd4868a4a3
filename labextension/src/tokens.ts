/**
 * Types and ids shared by the frontend modules. No runtime dependencies.
 */

/** The npm/extension id of the one plugin. */
export const PLUGIN_ID = 'jupyterlab-remote:plugin';

/** The DOM id of the sidebar panel (also its layout-restorer key). */
export const SIDEBAR_ID = 'jp-remote-sidebar';

/** Path under the Jupyter server base URL that every REST resource lives under. */
export const API_NAMESPACE = 'remote';

/** Command ids. */
export namespace CommandIDs {
  /** Re-fetch the saved servers now. */
  export const refresh = 'remote:refresh';
  /** Reveal the Remote sidebar. */
  export const open = 'remote:open';
}

/** How a server authenticates. */
export type AuthMethod = 'key' | 'password' | 'agent';

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
  /** Defined by an administrator in config: not editable from the UI. */
  readonly: boolean;
  /** Whether a password or key passphrase is stored for it. */
  has_secret: boolean;
}

/**
 * An error as the server extension reports it (and as the UI shows it):
 * what went wrong, a machine-readable reason, and what to do about it.
 */
export interface IRemoteError {
  message: string;
  reason: string;
  hint: string;
}
