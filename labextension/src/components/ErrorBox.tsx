import * as React from 'react';

import { IRemoteError } from '../tokens';

export interface IErrorBoxProps {
  error: IRemoteError;
  /** Called by the Retry button. */
  onRetry: () => void;
  /** Whether a retry is in flight (disables the button). */
  retrying?: boolean;
}

/** An error with its fix and a Retry button. Announced to screen readers. */
export function ErrorBox({ error, onRetry, retrying = false }: IErrorBoxProps): JSX.Element {
  return (
    <div className="jp-remote-ErrorBox" role="alert">
      <p className="jp-remote-ErrorBox-message">
        <strong className="jp-remote-ErrorBox-label">
          <span aria-hidden="true">⚠ </span>Error:
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
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-mod-accept jp-remote-ErrorBox-retry"
        aria-label="Retry loading servers"
        onClick={onRetry}
        disabled={retrying}
      >
        {retrying ? 'Retrying…' : 'Retry'}
      </button>
    </div>
  );
}
