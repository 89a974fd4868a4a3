import * as React from 'react';

export interface ILoadingProps {
  label?: string;
}

/** A polite, text-bearing loading indicator. */
export function Loading({ label = 'Loading servers…' }: ILoadingProps): JSX.Element {
  return (
    <div className="jp-remote-Loading" role="status" aria-live="polite">
      <span className="jp-remote-Loading-spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}
