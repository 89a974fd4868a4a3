/**
 * What other modules and other extensions use: the Lumino tokens of the two
 * models with their interfaces, and ids.
 *
 * Re-exported here: the shapes of the REST answers (rest.ts) and the events
 * the server sends over the websocket (events.ts, GENERATED from the server's
 * event schemas).
 */
import { Token } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';

import type { INoticeEvent, IProgressEvent, ISession, RemoteEvent } from './events';
import type {
  IForwardInput,
  IHostKey,
  IJupyterKernelspec,
  IProfile,
  IProfileInput,
  IRemoteError,
  IRemoteKernel,
  IServer,
  IServerGpus,
  IServerInput
} from './rest';

export type { INoticeEvent, IProgressEvent, ISession, ISlurmJob, ProgressStage, RemoteEvent } from './events';

/** The id of the sidebar plugin (the other plugins are named after what they provide). */
export const PLUGIN_ID = 'jupyterlab-remote:plugin';

/** The DOM id of the sidebar panel (also its layout-restorer key). */
export const SIDEBAR_ID = 'jp-remote-sidebar';

/** Prefix of the DOM id of a wizard tab (the server name follows). */
export const WIZARD_ID_PREFIX = 'jp-remote-wizard-';

/** Path under the Jupyter server base URL that every REST resource lives under. */
export const API_NAMESPACE = 'remote';

/** Path (under the base URL) of the events websocket. */
export const EVENTS_PATH = 'remote/events';

/** Kernelspec name of a profile: `remote-<name>`, lower-cased like the server does. */
export function kernelNameOf(profile: string): string {
  return `remote-${profile}`.toLowerCase();
}

/**
 * Our kernelspec of kernelspec `kernel` of the saved Jupyter server `server`:
 * `remote-<server>--<kernel>`, lower-cased like the server writes it
 * (kernels/jupyter_servers.py spec_name).
 */
export function jupyterKernelNameOf(server: string, kernel: string): string {
  return `remote-${server}--${kernel}`.toLowerCase();
}

/** Command ids. */
export namespace CommandIDs {
  /** Re-fetch servers, profiles, sessions and host keys now. */
  export const refresh = 'remote:refresh';
  /** Reveal the Remote sidebar. */
  export const open = 'remote:open';
  /** Open the add-server form in the sidebar. */
  export const addServer = 'remote:add-server';
  /** Open the connect wizard for a server (args: {server}). */
  export const connect = 'remote:connect';
  /** Reveal the sidebar with the Security drawer open. */
  export const openSecurity = 'remote:open-security';
  /** Open a terminal on a server (args: {server, persistent?, id?}). */
  export const openTerminal = 'remote:open-terminal';
}

export * from './rest';

// ------------------------------------------------------------ model parts

/** An action that failed, with a way to do it again. */
export interface IActionError {
  /** What was being done, e.g. `Remove server gpu`. */
  label: string;
  error: IRemoteError;
  retry: () => void;
}

/** The kernels our agent runs on one server (`GET remote/servers/{name}/kernels`). */
export interface IRemoteKernelsState {
  loading: boolean;
  loaded: boolean;
  error: IRemoteError | null;
  kernels: IRemoteKernel[];
}

/** State of the live events link: `live`, opening it the first time, or down (polling). */
export type EventsState = 'connecting' | 'live' | 'down';

/** What JupyterLab's kernel service knows of a kernel (for "last activity"). */
export interface IKernelActivity {
  execution_state?: string;
  /** ISO date of the last message. */
  last_activity?: string;
  /** ISO date it entered its execution state (known live, from this page's connections). */
  since?: string;
  /** The debugger holds it at a breakpoint. */
  paused?: boolean;
}

// ------------------------------------------------------------------ models

/**
 * Saved servers, their profiles and the trusted host keys: loading (polled
 * while the sidebar is shown), adding, editing, removing, trusting.
 *
 * Reads never reject: a failed listing is kept in `error` and the last good
 * data stays. Removals never reject either: a failure becomes `actionError`
 * (with a Retry). Saves and trusts reject with the server's error, for the
 * form or wizard that asked to show it at its field.
 */
export interface ICatalogModel extends IDisposable {
  /** Saved servers from the last successful refresh. */
  readonly servers: readonly IServer[];
  /** Saved profiles from the last successful refresh. */
  readonly profiles: readonly IProfile[];
  /** Trusted host keys (ours and ~/.ssh/known_hosts), and skipped known_hosts lines. */
  readonly hostKeys: readonly IHostKey[];
  /** Whether a refresh is in flight. */
  readonly loading: boolean;
  /** Whether at least one refresh has finished (successfully or not). */
  readonly loaded: boolean;
  /** The error of the last refresh of servers/profiles, or null. */
  readonly error: IRemoteError | null;
  /** The error of the last host-key listing, or null. */
  readonly hostKeysError: IRemoteError | null;
  /** The last failed removal, shown with a Retry. */
  readonly actionError: IActionError | null;
  /** Whether the model is polling. */
  readonly polling: boolean;
  /** Emitted whenever anything above changes. */
  readonly changed: ISignal<ICatalogModel, void>;
  /** Emitted after this model added or removed profiles (their kernelspecs changed). */
  readonly profilesChanged: ISignal<ICatalogModel, void>;

  /** A saved server by name, or null. */
  server(name: string): IServer | null;
  /** The profiles of one server. */
  profilesOf(server: string): IProfile[];
  /** A profile by name, or null. */
  profile(name: string): IProfile | null;
  /** Whether an action (`remove-server:NAME`, `remove-profile:NAME`, `remove-hostkey:ID`) is in flight. */
  isBusy(action: string): boolean;

  /** Fetch servers, profiles and host keys now (calls in flight are shared). */
  refresh(): Promise<void>;
  /** Fetch only the host keys. */
  refreshHostKeys(): Promise<void>;
  /** Poll every interval (backing off after failures) and fetch at once. */
  startPolling(): void;
  stopPolling(): void;

  /** Save a new server (no `name` argument) or change one; rejects with the server's error. */
  saveServer(input: IServerInput, name?: string): Promise<IServer>;
  /** Remove a server; `withProfiles` removes its (editable) profiles first. */
  removeServer(name: string, options?: { withProfiles?: boolean }): Promise<boolean>;
  /**
   * Save a profile (and its kernelspec); rejects with the server's error
   * (`cwd_missing` unless `createCwd`).
   */
  addProfile(input: IProfileInput, options?: { createCwd?: boolean }): Promise<IProfile>;
  /** Change some fields of a profile (its kernelspec follows); rejects with the server's error. */
  updateProfile(
    name: string,
    changes: Partial<IProfileInput>,
    options?: { createCwd?: boolean }
  ): Promise<IProfile>;
  /** The kernelspecs of a Jupyter server, once loaded (`loadKernelspecs`). */
  kernelspecsOf(server: string): readonly IJupyterKernelspec[] | null;
  /** List a Jupyter server's kernelspecs (ours on disk follow; the picker refreshes). */
  loadKernelspecs(server: string): Promise<boolean>;
  /** The GPUs the last probe of a server saw, once loaded (`loadGpus`). */
  gpusOf(server: string): IServerGpus | null;
  /** Load a server's GPUs (from the last probe; `refresh`: probe again). Never rejects. */
  loadGpus(server: string, refresh?: boolean): Promise<void>;
  /** Remove a profile and its kernelspec. */
  removeProfile(name: string): Promise<boolean>;
  /** Trust the key `server` offers now if it has this fingerprint; rejects otherwise. */
  trustHostKey(server: string, fingerprint: string): Promise<IHostKey>;
  /** Remove every trusted key of a host (ours only). */
  removeHostKey(hostId: string): Promise<boolean>;
  /** Forget the last action error (its box was closed). */
  clearActionError(): void;
}

/** The catalog model: servers, profiles, host keys. */
export const ICatalogModel = new Token<ICatalogModel>(
  'jupyterlab-remote:catalog',
  'Saved remote servers, their profiles and trusted host keys (load, add, edit, remove, trust).'
);

/**
 * Remote sessions kept live from the `remote/events` websocket (reconnected
 * with back-off; `GET remote/sessions` polled while it is down), the start-up
 * progress and notices of kernels, their activity in JupyterLab, the kernels
 * found on a server and forwarded ports.
 */
export interface ISessionsModel extends IDisposable {
  /** Sessions, in the order first seen (stopped ones stay until dismissed). */
  readonly sessions: readonly ISession[];
  /** Whether the sessions have been fetched once (or the websocket said hello). */
  readonly loaded: boolean;
  /** Error of the last sessions poll (while the websocket is down), or null. */
  readonly error: IRemoteError | null;
  /** Whether events arrive live, or sessions are polled meanwhile. */
  readonly eventsState: EventsState;
  /** The last failed attach or remote-kernel stop, shown with a Retry. */
  readonly actionError: IActionError | null;
  /** Emitted whenever anything above changes. */
  readonly changed: ISignal<ISessionsModel, void>;
  /** Every event of the websocket, after the model applied it. */
  readonly event: ISignal<ISessionsModel, RemoteEvent>;
  /** Each notice as it arrives (the sidebar plugin shows it as a notification). */
  readonly noticed: ISignal<ISessionsModel, INoticeEvent>;

  /** Latest start-up progress of a kernel, while it is starting. */
  progressOf(kernelId: string): IProgressEvent | null;
  /** Notices about a kernel, oldest first (a few of the latest). */
  noticesOf(kernelId: string): readonly INoticeEvent[];
  /** What JupyterLab knows of a session's kernel (execution state, last activity). */
  activityOf(session: ISession): IKernelActivity | null;
  /** Error of the last Stop/Retry of a session, or null. */
  errorOf(id: string): IRemoteError | null;
  /** Whether `stop:ID`, `retry:ID`, `attach:ID`, `stop-remote:ID`, `forward:SERVER` is in flight. */
  isBusy(action: string): boolean;

  /** Open the events websocket (idempotent). */
  connectEvents(): void;
  /** Close it and stop the fallback polling. */
  disconnectEvents(): void;
  /** Fetch the sessions now. */
  refresh(): Promise<void>;

  /** Stop a session (the kernel and its forwards). */
  stopSession(id: string): Promise<void>;
  /** Retry a disconnected session. */
  retrySession(id: string): Promise<void>;
  /** Forget a stopped session's card. */
  dismissSession(id: string): void;
  /** Forget the notices shown on a kernel's card. */
  dismissNotices(kernelId: string): void;

  /** The kernels found on a server by the last loadRemoteKernels, or null. */
  remoteKernelsOf(server: string): IRemoteKernelsState | null;
  /** List the kernels our agent runs on a server. */
  loadRemoteKernels(server: string): Promise<void>;
  /** Adopt a kernel still running on the remote; resolves with its Jupyter id, or null. */
  attachKernel(server: string, kernelId: string): Promise<string | null>;
  /** Stop a kernel on the remote that no session here manages. */
  stopRemoteKernel(server: string, kernelId: string): Promise<boolean>;

  /** The error of the last forward opened on a server, or null. */
  forwardError(server: string): IRemoteError | null;
  /** Forward a port on the server's 127.0.0.1; its session card appears. */
  openForward(input: IForwardInput): Promise<ISession | null>;

  /** Forget the last action error. */
  clearActionError(): void;
}

/** The sessions model: live remote sessions, progress, notices, activity. */
export const ISessionsModel = new Token<ISessionsModel>(
  'jupyterlab-remote:sessions',
  'Remote sessions kept live from the remote/events websocket, with start-up progress, notices and kernel activity.'
);
