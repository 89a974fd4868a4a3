import * as React from 'react';

export interface IEmptyStateProps {
  /** Opens the add-server form; the button is left out without it. */
  onAddServer?: () => void;
}

/** Shown when there are no saved servers: says what to do first. */
export function EmptyState({ onAddServer }: IEmptyStateProps): JSX.Element {
  return (
    <div className="jp-remote-EmptyState">
      <p>
        <strong>No saved servers yet.</strong> Start by adding the machine you
        want to run kernels on: its host name, your user there and your SSH key.
      </p>
      {onAddServer && (
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept"
          onClick={onAddServer}
        >
          Add a server
        </button>
      )}
      <p className="jp-remote-EmptyState-cli">
        Or from a terminal: <code>jupyter remote server add NAME --host HOST</code>
      </p>
    </div>
  );
}
