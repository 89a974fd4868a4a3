import * as React from 'react';

import { IRemoteError, IServer } from '../tokens';
import { EmptyState } from './EmptyState';
import { ErrorBox } from './ErrorBox';
import { Loading } from './Loading';
import { ServerList } from './ServerList';

export interface IRemoteViewProps {
  servers: readonly IServer[];
  loading: boolean;
  /** Whether at least one fetch has finished. */
  loaded: boolean;
  error: IRemoteError | null;
  onRefresh: () => void;
  /** Icon for the refresh button; a text glyph by default. */
  refreshIcon?: React.ReactNode;
}

/** The whole sidebar body, from plain props. */
export function RemoteView(props: IRemoteViewProps): JSX.Element {
  const { servers, loading, loaded, error, onRefresh, refreshIcon } = props;
  const firstLoad = !loaded && servers.length === 0;
  return (
    <div className="jp-remote-View">
      <header className="jp-remote-View-header">
        <h2 className="jp-remote-View-title">Remote servers</h2>
        <button
          type="button"
          className="jp-remote-RefreshButton"
          aria-label="Refresh servers"
          title="Refresh servers"
          onClick={onRefresh}
          disabled={loading}
        >
          <span aria-hidden="true" className="jp-remote-RefreshButton-icon">
            {refreshIcon ?? '⟳'}
          </span>
        </button>
      </header>
      <section className="jp-remote-View-body" aria-busy={loading}>
        {error && <ErrorBox error={error} onRetry={onRefresh} retrying={loading} />}
        {firstLoad && loading && <Loading />}
        {servers.length > 0 && <ServerList servers={servers} />}
        {loaded && !error && servers.length === 0 && <EmptyState />}
      </section>
    </div>
  );
}
