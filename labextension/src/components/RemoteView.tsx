import * as React from 'react';

import { EventsState, IActionError } from '../model';
import {
  IHostKey,
  IProfile,
  IProgress,
  IRemoteError,
  IServer,
  ISession
} from '../tokens';
import { EmptyState } from './EmptyState';
import { ErrorBox } from './ErrorBox';
import { Loading } from './Loading';
import { SecurityDrawer } from './SecurityDrawer';
import { IServerFormProps, ServerForm } from './ServerForm';
import { IServerActions, ServerList } from './ServerList';
import { IKernelActivity, ISessionActions, SessionList } from './SessionList';

/** The server form, when open. */
export interface IFormState {
  mode: 'add' | 'edit';
  server?: IServer | null;
  saving: boolean;
  error: IRemoteError | null;
}

export interface IRemoteViewProps extends IServerActions, ISessionActions {
  servers: readonly IServer[];
  profiles?: readonly IProfile[];
  loading: boolean;
  /** Whether at least one fetch has finished. */
  loaded: boolean;
  error: IRemoteError | null;
  onRefresh: () => void;
  /** Icon for the refresh button; a text glyph by default. */
  refreshIcon?: React.ReactNode;

  /** The add/edit form, or null when the list shows. */
  form?: IFormState | null;
  onAddServer?: () => void;
  onSubmitServer?: IServerFormProps['onSubmit'];
  onCancelForm?: () => void;

  sessions?: readonly ISession[];
  sessionsLoaded?: boolean;
  sessionsError?: IRemoteError | null;
  onRefreshSessions?: () => void;
  eventsState?: EventsState;
  /** Epoch ms (uptimes). */
  now?: number;
  progressOf?: (kernelId: string) => IProgress | null;
  sessionErrorOf?: (id: string) => IRemoteError | null;
  displayNameOf?: (session: ISession) => string | undefined;
  activityOf?: (session: ISession) => IKernelActivity | null | undefined;

  securityOpen?: boolean;
  onToggleSecurity?: () => void;
  hostKeys?: readonly IHostKey[];
  hostKeysError?: IRemoteError | null;
  onRetryHostKeys?: () => void;
  onRemoveHostKey?: (key: IHostKey) => void;

  actionError?: IActionError | null;
  onDismissActionError?: () => void;
}

const EVENTS_TEXT: Record<EventsState, string> = {
  live: 'live',
  connecting: 'connecting…',
  down: 'live updates unavailable, refreshing every 10 s'
};

/** The whole sidebar body, from plain props. */
export function RemoteView(props: IRemoteViewProps): JSX.Element {
  const {
    servers,
    profiles = [],
    loading,
    loaded,
    error,
    onRefresh,
    refreshIcon,
    form,
    onAddServer,
    onSubmitServer,
    onCancelForm,
    sessions = [],
    sessionsLoaded = false,
    sessionsError = null,
    onRefreshSessions,
    eventsState,
    now = Date.now(),
    actionError,
    onDismissActionError
  } = props;
  const firstLoad = !loaded && servers.length === 0;
  return (
    <div className="jp-remote-View">
      <header className="jp-remote-View-header">
        <h2 className="jp-remote-View-title">Remote</h2>
        <div className="jp-remote-View-tools">
          {onAddServer && !form && (
            <button
              type="button"
              className="jp-remote-ToolButton"
              aria-label="Add server"
              title="Add server"
              onClick={onAddServer}
            >
              <span aria-hidden="true">+</span>
            </button>
          )}
          <button
            type="button"
            className="jp-remote-ToolButton jp-remote-RefreshButton"
            aria-label="Refresh servers"
            title="Refresh servers, sessions and keys"
            onClick={onRefresh}
            disabled={loading}
          >
            <span aria-hidden="true" className="jp-remote-RefreshButton-icon">
              {refreshIcon ?? '⟳'}
            </span>
          </button>
        </div>
      </header>
      {actionError && (
        <div className="jp-remote-View-banner">
          <ErrorBox
            error={actionError.error}
            title={actionError.label}
            onRetry={actionError.retry}
            retryLabel={`Retry: ${actionError.label}`}
            onDismiss={onDismissActionError}
          />
        </div>
      )}
      <section
        className="jp-remote-Section jp-remote-Servers"
        aria-labelledby="jp-remote-servers-heading"
        aria-busy={loading}
      >
        <h3 className="jp-remote-SectionTitle" id="jp-remote-servers-heading">
          Servers
        </h3>
        {form && onSubmitServer && onCancelForm ? (
          <ServerForm
            key={`${form.mode}:${form.server?.name ?? ''}`}
            mode={form.mode}
            server={form.server}
            saving={form.saving}
            error={form.error}
            onSubmit={onSubmitServer}
            onCancel={onCancelForm}
          />
        ) : (
          <>
            {error && (
              <ErrorBox
                error={error}
                onRetry={onRefresh}
                retryLabel="Retry loading servers"
                retrying={loading}
              />
            )}
            {firstLoad && loading && <Loading />}
            {servers.length > 0 && (
              <ServerList
                servers={servers}
                profiles={profiles}
                onConnect={props.onConnect}
                onEdit={props.onEdit}
                onRemove={props.onRemove}
                onOpenNotebook={props.onOpenNotebook}
                onRemoveProfile={props.onRemoveProfile}
                isBusy={props.isBusy}
                openTool={props.openTool}
                onToggleTool={props.onToggleTool}
                remoteKernelsOf={props.remoteKernelsOf}
                attachedIds={new Set(sessions.map(s => s.id))}
                now={now}
                onRefreshKernels={props.onRefreshKernels}
                onAttach={props.onAttach}
                onStopRemoteKernel={props.onStopRemoteKernel}
                onForward={props.onForward}
                forwardErrorOf={props.forwardErrorOf}
              />
            )}
            {loaded && !error && servers.length === 0 && <EmptyState onAddServer={onAddServer} />}
          </>
        )}
      </section>
      <section className="jp-remote-Section jp-remote-Sessions" aria-labelledby="jp-remote-sessions-heading">
        <h3 className="jp-remote-SectionTitle">
          <span id="jp-remote-sessions-heading">Sessions</span>
          {eventsState && (
            <span
              className={`jp-remote-EventsState jp-remote-EventsState-${eventsState}`}
              role="status"
            >
              {' '}
              ({EVENTS_TEXT[eventsState]})
            </span>
          )}
        </h3>
        {sessionsError && (
          <ErrorBox
            error={sessionsError}
            onRetry={onRefreshSessions}
            retryLabel="Retry loading sessions"
          />
        )}
        {sessions.length > 0 ? (
          <SessionList
            sessions={sessions}
            now={now}
            progressOf={props.progressOf}
            errorOf={props.sessionErrorOf}
            displayNameOf={props.displayNameOf}
            activityOf={props.activityOf}
            onStop={props.onStop}
            onRetry={props.onRetry}
            onDismiss={props.onDismiss}
            onOpen={props.onOpen}
            isBusy={props.isBusy}
          />
        ) : (
          (sessionsLoaded || !eventsState) &&
          !sessionsError && (
            <p className="jp-remote-EmptyState">
              No remote sessions.{' '}
              {profiles.length
                ? 'Open a notebook on a profile (or pick a remote kernel in the launcher) to start one.'
                : 'Add a server and connect to it first; its profiles then start remote kernels.'}
            </p>
          )
        )}
      </section>
      {props.onToggleSecurity && (
        <SecurityDrawer
          open={props.securityOpen ?? false}
          onToggle={props.onToggleSecurity}
          keys={props.hostKeys ?? []}
          error={props.hostKeysError ?? null}
          onRetry={props.onRetryHostKeys ?? onRefresh}
          onRemove={props.onRemoveHostKey ?? (() => undefined)}
          isBusy={props.isBusy}
        />
      )}
    </div>
  );
}
