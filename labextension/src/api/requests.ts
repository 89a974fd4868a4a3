/**
 * Requests to the jupyterlab-remote server extension (REST under `remote/`).
 *
 * Every request resolves with the parsed answer or rejects with a
 * RemoteAPIError (errors.ts); the modules beside this one have one function
 * per REST call.
 */
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE } from '../tokens';
import { badResponse, errorFromResponse, networkError, RemoteAPIError } from './errors';

/** A URL {@link joinURL} refuses to build: nothing was sent. */
export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

/** `.`, `..` and their percent-encoded forms, which the browser's URL parser resolves. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Join URL segments with single slashes. Throws {@link UnsafePathError} when a part
 * after the base has a dot segment in its path: the browser would resolve it and
 * the request, with the user's token, could reach another endpoint (review s22 F2:
 * a remote's home `/../../api/shutdown` made a POST to `/api/shutdown`).
 */
export function joinURL(base: string, ...parts: string[]): string {
  let url = base.replace(/\/+$/, '');
  for (const part of parts) {
    const clean = part.replace(/^\/+/, '').replace(/\/+$/, '');
    if (clean.split(/[?#]/)[0].split('/').some(segment => DOT_SEGMENT.test(segment))) {
      throw new UnsafePathError(`Refusing to send a request to ${JSON.stringify(part)}: it has a "." or ".." segment.`);
    }
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

/** Send a request under `remote/`; resolves with the raw response when 2xx. */
export async function send(endPoint: string, init: RequestInit): Promise<Response> {
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

/** fetch options for a JSON body (none without one). */
export function jsonInit(method: string, body?: unknown): RequestInit {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  return init;
}

/** GET a list under `remote/`; rejects when the answer is not one. */
export async function getList<T>(endPoint: string): Promise<T[]> {
  const data = await requestAPI<unknown>(endPoint, { method: 'GET' });
  if (!Array.isArray(data)) {
    throw badResponse(`GET remote/${endPoint}: expected a list`);
  }
  return data as T[];
}
