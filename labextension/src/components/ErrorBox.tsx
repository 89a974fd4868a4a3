import * as React from 'react';

import { IRemoteError } from '../tokens';

export interface IErrorBoxProps {
  error: IRemoteError;
  /** Called by the Retry button; no button without it. */
  onRetry?: () => void;
  /** Accessible name of the Retry button, e.g. `Retry loading servers`. */
  retryLabel?: string;
  /** Whether a retry is in flight (disables the button). */
  retrying?: boolean;
  /** What failed, shown before the message (e.g. `Remove server gpu`). */
  title?: string;
  /** Called by a Dismiss button; no button without it. */
  onDismiss?: () => void;
  /** Extra actions next to Retry. */
  children?: React.ReactNode;
}

/** An error with its fix and a Retry button. Announced to screen readers. */
export function ErrorBox(props: IErrorBoxProps): JSX.Element {
  const {
    error,
    onRetry,
    retryLabel = 'Retry',
    retrying = false,
    title,
    onDismiss,
    children
  } = props;
  return (
    <div className="jp-remote-ErrorBox" role="alert">
      <p className="jp-remote-ErrorBox-message">
        <strong className="jp-remote-ErrorBox-label">
          <span aria-hidden="true">⚠ </span>
          {title ? `${title} failed:` : 'Error:'}
        </strong>{' '}
        {error.message}
      </p>
      {error.hint && (
        <p className="jp-remote-ErrorBox-hint">
          <strong>What to do:</strong> {error.hint}
        </p>
      )}
      {error.reason && (
        <p className="jp-remote-ErrorBox-reason">
          Reason: <code>{error.reason}</code>
        </p>
      )}
      {(onRetry || onDismiss || children) && (
        <div className="jp-remote-Actions">
          {onRetry && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept jp-remote-ErrorBox-retry"
              aria-label={retryLabel}
              onClick={onRetry}
              disabled={retrying}
            >
              {retrying ? 'Retrying…' : 'Retry'}
            </button>
          )}
          {children}
          {onDismiss && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-reject"
              onClick={onDismiss}
            >
              Dismiss
            </button>
          )}
        </div>
      )}
    </div>
  );
}
