/**
 * Requests to the jupyterlab-remote server extension (REST under `remote/`).
 *
 * Every function returns the parsed answer or throws a RemoteAPIError
 * carrying the server's `{message, reason, hint}` and any extra fields
 * (`field` of a 400, `fingerprint` of a host-key refusal, ...).
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  API_NAMESPACE,
  EVENTS_PATH,
  IEnvironment,
  IForwardInput,
  IHostKey,
  IHostKeyChanged,
  IHostKeyUnknown,
  InstallLine,
  IProfile,
  IProfileInput,
  IRemoteError,
  IRemoteKernel,
  IServer,
  IServerInput,
  ISession,
  ITestResult
} from './tokens';

/** What a RemoteAPIError carries. */
export interface IRemoteAPIErrorOptions extends Partial<IRemoteError> {
  /** HTTP status; 0 when the server could not be reached at all. */
  status: number;
  /** The whole JSON error body, extra fields included. */
  details?: Record<string, unknown>;
}

/**
 * A failed request to the server extension. Its fields come from the JSON
 * error body `{"message", "reason", "hint", ...}` when there is one.
 */
export class RemoteAPIError extends Error implements IRemoteError {
  readonly status: number;
  readonly reason: string;
  readonly hint: string;
  /** The input field a validation error is about, if the server named one. */
  readonly field: string | undefined;
  /** The whole JSON error body (empty when there was none). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(options: IRemoteAPIErrorOptions) {
    const message =
      options.message ||
      (options.status
        ? `Request failed with status ${options.status}`
        : 'Request failed');
    super(message);
    this.name = 'RemoteAPIError';
    this.status = options.status;
    this.reason = options.reason ?? '';
    this.hint = options.hint ?? '';
    this.field = options.field;
    this.details = options.details ?? {};
  }

  /** The plain error object the UI renders. */
  toRemoteError(): IRemoteError {
    const error: IRemoteError = {
      message: this.message,
      reason: this.reason,
      hint: this.hint,
      status: this.status
    };
    if (this.field) {
      error.field = this.field;
    }
    return error;
  }
}

/** Turn anything thrown into the `{message, reason, hint}` the UI shows. */
export function toRemoteError(error: unknown): IRemoteError {
  if (error instanceof RemoteAPIError) {
    return error.toRemoteError();
  }
  const message =
    error instanceof Error ? error.message : String(error ?? 'Unknown error');
  return { message, reason: '', hint: '' };
}

/** The details of a 409 hostkey_unknown refusal, or null. */
export function hostKeyUnknown(error: unknown): IHostKeyUnknown | null {
  if (!(error instanceof RemoteAPIError) || error.reason !== 'hostkey_unknown') {
    return null;
  }
  const d = error.details;
  return {
    reason: 'hostkey_unknown',
    host_id: String(d.host_id ?? ''),
    key_type: String(d.key_type ?? ''),
    fingerprint: String(d.fingerprint ?? ''),
    message: error.message,
    hint: error.hint
  };
}

/** The details of a 409 hostkey_changed refusal, or null. */
export function hostKeyChanged(error: unknown): IHostKeyChanged | null {
  if (!(error instanceof RemoteAPIError) || error.reason !== 'hostkey_changed') {
    return null;
  }
  const d = error.details;
  const known = Array.isArray(d.known_fingerprints)
    ? d.known_fingerprints.map(String)
    : [];
  return {
    reason: 'hostkey_changed',
    host_id: String(d.host_id ?? ''),
    key_type: String(d.key_type ?? ''),
    fingerprint: String(d.fingerprint ?? ''),
    known_fingerprints: known,
    message: error.message,
    hint: error.hint
  };
}

/** Join URL segments with single slashes. */
export function joinURL(base: string, ...parts: string[]): string {
  let url = base.replace(/\/+$/, '');
  for (const part of parts) {
    const clean = part.replace(/^\/+/, '').replace(/\/+$/, '');
    if (clean) {
      url += '/' + clean;
    }
  }
  return url;
}

/** One URL path segment: names and host ids (`[127.0.0.1]:2222`) are escaped. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value : undefined;
}

/** Build the error for a non-2xx response from its (maybe JSON) body. */
export function errorFromResponse(
  status: number,
  statusText: string,
  bodyText: string
): RemoteAPIError {
  let body: unknown = undefined;
  if (bodyText) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      body = undefined;
    }
  }
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    return new RemoteAPIError({
      status,
      message: asString(fields.message) ?? asString(statusText),
      reason: asString(fields.reason) ?? asString(statusText) ?? '',
      hint: asString(fields.hint) ?? '',
      field: asString(fields.field),
      details: fields
    });
  }
  // Not our JSON: a proxy page, tornado's HTML 404, an empty body...
  let hint = '';
  if (status === 404) {
    hint =
      'The jupyterlab-remote server extension did not answer. Check that it is ' +
      'installed and enabled: `jupyter server extension list`, then restart ' +
      'the Jupyter server.';
  } else if (status === 401 || status === 403) {
    hint = 'Your Jupyter session may have expired: reload the page and log in.';
  }
  const text = bodyText.trim();
  const plain = text && !text.startsWith('<') && text.length <= 300 ? text : '';
  return new RemoteAPIError({
    status,
    message:
      plain ||
      (statusText
        ? `Request failed: ${status} ${statusText}`
        : `Request failed with status ${status}`),
    reason: statusText,
    hint
  });
}

function networkError(error: unknown): RemoteAPIError {
  return new RemoteAPIError({
    status: 0,
    message: `Could not reach the Jupyter server: ${
      error instanceof Error ? error.message : String(error)
    }`,
    reason: 'network',
    hint: 'Check that the Jupyter server is still running and reachable, then retry.'
  });
}

function badResponse(what: string, status = 200): RemoteAPIError {
  return new RemoteAPIError({
    status,
    message: `Unexpected answer from ${what}.`,
    reason: 'bad-response',
    hint:
      'The server extension and this frontend may be different versions: ' +
      'reinstall jupyterlab-remote and restart the Jupyter server.'
  });
}

/** Send a request under `remote/`; resolves with the raw response when 2xx. */
async function send(endPoint: string, init: RequestInit): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = joinURL(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw networkError(error);
  }
  if (!response.ok) {
    const bodyText = await response.text().catch(() => '');
    throw errorFromResponse(response.status, response.statusText, bodyText);
  }
  return response;
}

/**
 * Call the server extension.
 *
 * @param endPoint path under `remote/`, e.g. `servers`
 * @param init fetch options
 * @returns the parsed JSON body (undefined for an empty body, e.g. 204)
 * @throws RemoteAPIError on a network failure (status 0) or a non-2xx status
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const response = await send(endPoint, init);
  const bodyText = await response.text();
  if (!bodyText) {
    return undefined as T;
  }
  try {
    return JSON.parse(bodyText) as T;
  } catch {
    throw new RemoteAPIError({
      status: response.status,
      message: 'The server answered with something that is not JSON.',
      reason: 'bad-response',
      hint: 'Check the Jupyter server log for errors from jupyterlab-remote.'
    });
  }
}

function jsonInit(method: string, body?: unknown): RequestInit {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  return init;
}

async function getList<T>(endPoint: string): Promise<T[]> {
  const data = await requestAPI<unknown>(endPoint, { method: 'GET' });
  if (!Array.isArray(data)) {
    throw badResponse(`GET remote/${endPoint}: expected a list`);
  }
  return data as T[];
}

// ------------------------------------------------------------------ servers

/** GET remote/servers: every saved (and admin-defined) server. */
export function listServers(): Promise<IServer[]> {
  return getList<IServer>('servers');
}

/** GET remote/servers/{name}. */
export function getServer(name: string): Promise<IServer> {
  return requestAPI<IServer>(`servers/${seg(name)}`, { method: 'GET' });
}

/** POST remote/servers: save a new server (400 with `field` when invalid). */
export function addServer(input: IServerInput): Promise<IServer> {
  return requestAPI<IServer>('servers', jsonInit('POST', input));
}

/** PATCH remote/servers/{name}: change some fields. */
export function updateServer(name: string, input: IServerInput): Promise<IServer> {
  return requestAPI<IServer>(`servers/${seg(name)}`, jsonInit('PATCH', input));
}

/** DELETE remote/servers/{name}. */
export async function removeServer(name: string): Promise<void> {
  await requestAPI<void>(`servers/${seg(name)}`, { method: 'DELETE' });
}

/**
 * POST remote/servers/{name}/test: connect and report. A 409 carries
 * `hostkey_unknown`/`hostkey_changed` (see hostKeyUnknown/hostKeyChanged).
 */
export function testServer(name: string): Promise<ITestResult> {
  return requestAPI<ITestResult>(`servers/${seg(name)}/test`, { method: 'POST' });
}

// ---------------------------------------------------------------- host keys

/** GET remote/hostkeys: ours and those read from ~/.ssh/known_hosts. */
export function listHostKeys(): Promise<IHostKey[]> {
  return getList<IHostKey>('hostkeys');
}

/** POST remote/hostkeys: trust the key `server` offers now, if it has this fingerprint. */
export function trustHostKey(server: string, fingerprint: string): Promise<IHostKey> {
  return requestAPI<IHostKey>('hostkeys', jsonInit('POST', { server, fingerprint }));
}

/** DELETE remote/hostkeys/{host_id}: resolves with how many keys were removed. */
export async function removeHostKey(hostId: string): Promise<number> {
  const answer = await requestAPI<{ removed?: number } | undefined>(
    `hostkeys/${seg(hostId)}`,
    { method: 'DELETE' }
  );
  return typeof answer?.removed === 'number' ? answer.removed : 0;
}

// ------------------------------------------------------------- environments

/** GET remote/servers/{name}/environments[?refresh=1]. */
export function listEnvironments(
  server: string,
  options: { refresh?: boolean } = {}
): Promise<IEnvironment[]> {
  const query = options.refresh ? '?refresh=1' : '';
  return getList<IEnvironment>(`servers/${seg(server)}/environments${query}`);
}

/** Parse NDJSON text into lines; returns the unfinished rest. */
export function splitLines(buffer: string, onLine: (line: string) => void): string {
  let rest = buffer;
  let index = rest.indexOf('\n');
  while (index >= 0) {
    const line = rest.slice(0, index).trim();
    rest = rest.slice(index + 1);
    if (line) {
      onLine(line);
    }
    index = rest.indexOf('\n');
  }
  return rest;
}

function parseInstallLine(text: string): InstallLine {
  try {
    const value = JSON.parse(text) as InstallLine;
    if (value && typeof value === 'object' && typeof value.type === 'string') {
      return value;
    }
  } catch {
    // fall through: show it as output
  }
  return { type: 'output', line: text };
}

/**
 * POST remote/servers/{name}/install-ipykernel, streaming pip's output.
 *
 * @param onOutput called with each line of pip's output as it arrives
 * @returns when the final line says done
 * @throws RemoteAPIError when the request fails or the final line is an error
 */
export async function installIpykernel(
  server: string,
  python: string,
  onOutput: (line: string) => void
): Promise<void> {
  const response = await send(
    `servers/${seg(server)}/install-ipykernel`,
    jsonInit('POST', { python })
  );
  let final: InstallLine | null = null;
  const handle = (text: string): void => {
    const line = parseInstallLine(text);
    if (line.type === 'output') {
      onOutput(line.line);
    } else {
      final = line;
    }
  };
  const reader = response.body?.getReader?.();
  if (reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      buffer = splitLines(buffer + decoder.decode(value, { stream: true }), handle);
    }
    splitLines(buffer + decoder.decode() + '\n', handle);
  } else {
    splitLines((await response.text()) + '\n', handle);
  }
  const last = final as InstallLine | null;
  if (last === null) {
    throw new RemoteAPIError({
      status: response.status,
      message: 'The installation stream ended before it said whether pip succeeded.',
      reason: 'stream_cut',
      hint: 'Refresh the environments to see whether ipykernel is there now, then retry.'
    });
  }
  if (last.type === 'error') {
    throw new RemoteAPIError({
      status: response.status,
      message: last.message,
      reason: last.reason,
      hint: last.hint,
      details: last as unknown as Record<string, unknown>
    });
  }
  if (last.type === 'done' && !last.ok) {
    throw new RemoteAPIError({
      status: response.status,
      message: 'pip did not install ipykernel.',
      reason: 'install_failed',
      hint: "See pip's output above."
    });
  }
}

// ------------------------------------------------------------------ profiles

/** GET remote/profiles. */
export function listProfiles(): Promise<IProfile[]> {
  return getList<IProfile>('profiles');
}

/** POST remote/profiles: 409 `ipykernel_missing` when the env lacks ipykernel. */
export function addProfile(input: IProfileInput): Promise<IProfile> {
  return requestAPI<IProfile>('profiles', jsonInit('POST', input));
}

/** PUT remote/profiles/{name}: replace a profile. */
export function replaceProfile(input: IProfileInput): Promise<IProfile> {
  return requestAPI<IProfile>(`profiles/${seg(input.name)}`, jsonInit('PUT', input));
}

/** DELETE remote/profiles/{name} (and its kernelspec). */
export async function removeProfile(name: string): Promise<void> {
  await requestAPI<void>(`profiles/${seg(name)}`, { method: 'DELETE' });
}

// ------------------------------------------------------------------ sessions

/** GET remote/sessions. */
export function listSessions(): Promise<ISession[]> {
  return getList<ISession>('sessions');
}

/** DELETE remote/sessions/{id}: the Stop button. */
export async function stopSession(id: string): Promise<void> {
  await requestAPI<void>(`sessions/${seg(id)}`, { method: 'DELETE' });
}

/** POST remote/sessions/{id}/retry: reconnect a disconnected session. */
export function retrySession(id: string): Promise<ISession> {
  return requestAPI<ISession>(`sessions/${seg(id)}/retry`, { method: 'POST' });
}

/** GET remote/servers/{name}/kernels: kernels still on the remote. */
export function listRemoteKernels(server: string): Promise<IRemoteKernel[]> {
  return getList<IRemoteKernel>(`servers/${seg(server)}/kernels`);
}

/** DELETE remote/servers/{name}/kernels/{kernel_id}. */
export async function stopRemoteKernel(server: string, kernelId: string): Promise<void> {
  await requestAPI<unknown>(`servers/${seg(server)}/kernels/${seg(kernelId)}`, {
    method: 'DELETE'
  });
}

/**
 * POST remote/servers/{name}/kernels/{kernel_id}/attach: adopt a kernel our
 * agent still runs (e.g. after this Jupyter server restarted); resolves with
 * the Jupyter kernel model (same id).
 */
export function attachRemoteKernel(
  server: string,
  kernelId: string
): Promise<{ id: string; name: string }> {
  return requestAPI<{ id: string; name: string }>(
    `servers/${seg(server)}/kernels/${seg(kernelId)}/attach`,
    { method: 'POST' }
  );
}

// ------------------------------------------------------------------ forwards

/** GET remote/forwards. */
export function listForwards(): Promise<ISession[]> {
  return getList<ISession>('forwards');
}

/** POST remote/forwards: forward a port on the remote's 127.0.0.1 (201: the session). */
export function openForward(input: IForwardInput): Promise<ISession> {
  return requestAPI<ISession>('forwards', jsonInit('POST', input));
}

/** DELETE remote/forwards/{id}. */
export async function stopForward(id: string): Promise<void> {
  await requestAPI<void>(`forwards/${seg(id)}`, { method: 'DELETE' });
}

/**
 * The full URL of a forward's entry route (its `url` is base-relative). With
 * Jupyter's auth it redirects to the forward's own origin
 * (`http://jr-<secret>.localhost:<port>/`, when the browser runs on the Jupyter
 * server's machine) or to its sandbox route: either way its pages are never
 * same-origin with Jupyter. Never the forward's bare local port (a tunnel whose
 * pages would share the browser's cookies of 127.0.0.1).
 */
export function forwardURL(
  session: Pick<ISession, 'url'>,
  settings: Pick<ServerConnection.ISettings, 'baseUrl'> = ServerConnection.makeSettings()
): string {
  return joinURL(settings.baseUrl, session.url ?? '') + '/';
}

/** What `window.open` is to {@link openForwardTab} (a stand-in in tests). */
export type OpenWindow = (url: string, target: string, features: string) => unknown;

/**
 * Open a forward's page in a new tab, called by the session card's Open button.
 * `noopener,noreferrer`: the forwarded page gets no handle on JupyterLab's window
 * (no `window.opener` to message) and no Referer from it.
 */
export function openForwardTab(
  session: Pick<ISession, 'url'>,
  open: OpenWindow = (url, target, features) => window.open(url, target, features),
  settings?: Pick<ServerConnection.ISettings, 'baseUrl'>
): void {
  open(forwardURL(session, settings), '_blank', 'noopener,noreferrer');
}

// ------------------------------------------------------------------- events

/**
 * The URL of the events websocket: `wsUrl` + `remote/events`, with the
 * token in the query only when the settings carry one (otherwise the
 * browser's cookie authenticates, as for JupyterLab's own websockets).
 */
export function eventsURL(
  settings: Pick<ServerConnection.ISettings, 'wsUrl' | 'token'> = ServerConnection.makeSettings()
): string {
  const url = joinURL(settings.wsUrl, EVENTS_PATH);
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}
