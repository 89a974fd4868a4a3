/**
 * Requests to the jupyterlab-remote server extension (REST under `remote/`).
 */
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, IRemoteError, IServer } from './tokens';

/** What a RemoteAPIError carries. */
export interface IRemoteAPIErrorOptions extends Partial<IRemoteError> {
  /** HTTP status; 0 when the server could not be reached at all. */
  status: number;
}

/**
 * A failed request to the server extension. Its fields come from the JSON
 * error body `{"message", "reason", "hint"}` when there is one.
 */
export class RemoteAPIError extends Error implements IRemoteError {
  readonly status: number;
  readonly reason: string;
  readonly hint: string;

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
  }

  /** The plain error object the UI renders. */
  toRemoteError(): IRemoteError {
    return { message: this.message, reason: this.reason, hint: this.hint };
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

/** Join URL segments with single slashes. */
function joinURL(base: string, ...parts: string[]): string {
  let url = base.replace(/\/+$/, '');
  for (const part of parts) {
    const clean = part.replace(/^\/+/, '').replace(/\/+$/, '');
    if (clean) {
      url += '/' + clean;
    }
  }
  return url;
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
      hint: asString(fields.hint) ?? ''
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
  const settings = ServerConnection.makeSettings();
  const url = joinURL(settings.baseUrl, API_NAMESPACE, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new RemoteAPIError({
      status: 0,
      message: `Could not reach the Jupyter server: ${
        error instanceof Error ? error.message : String(error)
      }`,
      reason: 'network',
      hint: 'Check that the Jupyter server is still running and reachable, then retry.'
    });
  }

  const bodyText = await response.text();
  if (!response.ok) {
    throw errorFromResponse(response.status, response.statusText, bodyText);
  }
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

/** GET remote/servers: every saved (and admin-defined) server. */
export async function listServers(): Promise<IServer[]> {
  const servers = await requestAPI<unknown>('servers', { method: 'GET' });
  if (!Array.isArray(servers)) {
    throw new RemoteAPIError({
      status: 200,
      message: 'Unexpected answer from GET remote/servers: expected a list.',
      reason: 'bad-response',
      hint: 'The server extension and this frontend may be different versions: reinstall jupyterlab-remote and restart.'
    });
  }
  return servers as IServer[];
}
