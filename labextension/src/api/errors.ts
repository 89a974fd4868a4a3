/**
 * The errors of requests to the server extension: RemoteAPIError carries the
 * server's `{message, reason, hint}` and any extra fields (`field` of a 400,
 * `fingerprint` of a host-key refusal, ...); the UI shows them as IRemoteError.
 */
import { IHostKeyChanged, IHostKeyUnknown, IRemoteError } from '../rest';

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

/** The error of a request that never got an answer (status 0). */
export function networkError(error: unknown): RemoteAPIError {
  return new RemoteAPIError({
    status: 0,
    message: `Could not reach the Jupyter server: ${
      error instanceof Error ? error.message : String(error)
    }`,
    reason: 'network',
    hint: 'Check that the Jupyter server is still running and reachable, then retry.'
  });
}

/** The error of a 2xx answer that is not what was asked for. */
export function badResponse(what: string, status = 200): RemoteAPIError {
  return new RemoteAPIError({
    status,
    message: `Unexpected answer from ${what}.`,
    reason: 'bad-response',
    hint:
      'The server extension and this frontend may be different versions: ' +
      'reinstall jupyterlab-remote and restart the Jupyter server.'
  });
}
