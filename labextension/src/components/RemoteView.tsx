import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { EventsState, ICatalogModel, ISessionsModel } from '../tokens';
import { EmptyState } from './EmptyState';
import { ErrorBox } from './ErrorBox';
import { useChanged } from './hooks';
import { Loading } from './Loading';
import { SecurityDrawer } from './SecurityDrawer';
import { ServerForm } from './ServerForm';
import { ServerList } from './ServerList';
import { SessionList } from './SessionList';

export interface IRemoteViewProps {
  catalog: ICatalogModel;
  sessions: ISessionsModel;
  sidebar: SidebarModel;
  /** Icon for the refresh button; a text glyph by default. */
  refreshIcon?: React.ReactNode;
}

const EVENTS_TEXT: Record<EventsState, string> = {
  live: 'live',
  connecting: 'connecting…',
  down: 'live updates unavailable, refreshing every 10 s'
};

/** The whole sidebar body, fed by the models; renders again when one changes. */
export function RemoteView(props: IRemoteViewProps): JSX.Element {
  const { catalog, sessions, sidebar } = props;
  useChanged(catalog.changed, sessions.changed, sidebar.changed);
  return (
    <div className="jp-remote-View">
      <Header {...props} />
      <ActionErrors catalog={catalog} sessions={sessions} />
      <ServersSection catalog={catalog} sessions={sessions} sidebar={sidebar} />
      <SessionsSection catalog={catalog} sessions={sessions} sidebar={sidebar} />
      <SecurityDrawer catalog={catalog} sidebar={sidebar} />
    </div>
  );
}

/** Title, Add server and Refresh. */
function Header({ catalog, sidebar, refreshIcon }: IRemoteViewProps): JSX.Element {
  return (
    <header className="jp-remote-View-header">
      <h2 className="jp-remote-View-title">Remote</h2>
      <div className="jp-remote-View-tools">
        {!sidebar.form && (
          <button
            type="button"
            className="jp-remote-ToolButton"
            aria-label="Add server"
            title="Add server"
            onClick={() => sidebar.openAddForm()}
          >
            <span aria-hidden="true">+</span>
          </button>
        )}
        <button
          type="button"
          className="jp-remote-ToolButton jp-remote-RefreshButton"
          aria-label="Refresh servers"
          title="Refresh servers, sessions and keys"
          onClick={() => sidebar.refresh()}
          disabled={catalog.loading}
        >
          <span aria-hidden="true" className="jp-remote-RefreshButton-icon">
            {refreshIcon ?? '⟳'}
          </span>
        </button>
      </div>
    </header>
  );
}

/** The last failed removal, attach or remote-kernel stop of either model, with a Retry. */
function ActionErrors({ catalog, sessions }: Pick<IRemoteViewProps, 'catalog' | 'sessions'>): JSX.Element {
  return (
    <>
      {[catalog, sessions].map((model, index) => {
        const failure = model.actionError;
        return (
          failure && (
            <div className="jp-remote-View-banner" key={index}>
              <ErrorBox
                error={failure.error}
                title={failure.label}
                onRetry={failure.retry}
                retryLabel={`Retry: ${failure.label}`}
                onDismiss={() => model.clearActionError()}
              />
            </div>
          )
        );
      })}
    </>
  );
}

/** Saved servers with their profiles and tools, or the add/edit form. */
function ServersSection({ catalog, sessions, sidebar }: IRemoteViewProps): JSX.Element {
  const { servers, loading, loaded, error } = catalog;
  const form = sidebar.form;
  const firstLoad = !loaded && servers.length === 0;
  return (
    <section
      className="jp-remote-Section jp-remote-Servers"
      aria-labelledby="jp-remote-servers-heading"
      aria-busy={loading}
    >
      <h3 className="jp-remote-SectionTitle" id="jp-remote-servers-heading">
        Servers
      </h3>
      {form ? (
        <ServerForm
          key={`${form.mode}:${form.server?.name ?? ''}`}
          mode={form.mode}
          server={form.server}
          saving={form.saving}
          error={form.error}
          sshServers={servers.filter(s => (s.kind ?? 'ssh') === 'ssh').map(s => s.name)}
          onSubmit={input => void sidebar.submitServer(input)}
          onCancel={() => sidebar.closeForm()}
        />
      ) : (
        <>
          {error && (
            <ErrorBox
              error={error}
              onRetry={() => sidebar.refresh()}
              retryLabel="Retry loading servers"
              retrying={loading}
            />
          )}
          {firstLoad && loading && <Loading />}
          {servers.length > 0 && <ServerList catalog={catalog} sessions={sessions} sidebar={sidebar} />}
          {loaded && !error && servers.length === 0 && (
            <EmptyState onAddServer={() => sidebar.openAddForm()} />
          )}
        </>
      )}
    </section>
  );
}

/** The session cards, how live they are, and what to do when there is none. */
function SessionsSection({ catalog, sessions, sidebar }: IRemoteViewProps): JSX.Element {
  const eventsState = sessions.eventsState;
  return (
    <section className="jp-remote-Section jp-remote-Sessions" aria-labelledby="jp-remote-sessions-heading">
      <h3 className="jp-remote-SectionTitle">
        <span id="jp-remote-sessions-heading">Sessions</span>
        <span className={`jp-remote-EventsState jp-remote-EventsState-${eventsState}`} role="status">
          {' '}
          ({EVENTS_TEXT[eventsState]})
        </span>
      </h3>
      {sessions.error && (
        <ErrorBox
          error={sessions.error}
          onRetry={() => void sessions.refresh()}
          retryLabel="Retry loading sessions"
        />
      )}
      {sessions.sessions.length > 0 ? (
        <SessionList sessions={sessions} sidebar={sidebar} />
      ) : (
        sessions.loaded &&
        !sessions.error && (
          <p className="jp-remote-EmptyState">
            No remote sessions.{' '}
            {catalog.profiles.length
              ? 'Open a notebook on a profile (or pick a remote kernel in the launcher) to start one.'
              : 'Add a server and connect to it first; its profiles then start remote kernels.'}
          </p>
        )
      )}
    </section>
  );
}
