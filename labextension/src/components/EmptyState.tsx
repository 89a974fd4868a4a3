import * as React from 'react';

/** Shown when there are no saved servers: says what to do first. */
export function EmptyState(): JSX.Element {
  return (
    <div className="jp-remote-EmptyState">
      <p>
        No saved servers yet. Add one with{' '}
        <code>jupyter remote server add NAME --host HOST</code> — the form
        arrives in a later version.
      </p>
    </div>
  );
}
