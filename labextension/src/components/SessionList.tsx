import * as React from 'react';

import { IProgress, IRemoteError, ISession, PROGRESS_STAGES } from '../tokens';
import { ErrorBox } from './ErrorBox';
import { formatAgo, formatDuration } from './format';
import { StateBadge, stateLabel } from './StateBadge';

/** What a forward's local port is, on its card (a tooltip, never a link). */
export const RAW_PORT_NOTE =
  'A plain tunnel, like ssh -L. Open the page with Open: pages opened on this port ' +
  'directly share the browser\'s cookies with JupyterLab.';

/** What JupyterLab's kernel service knows of a kernel (for "last activity"). */
export interface IKernelActivity {
  execution_state?: string;
  /** ISO date of the last message. */
  last_activity?: string;
}

export interface ISessionActions {
  onStop?: (session: ISession) => void;
  onRetry?: (session: ISession) => void;
  onDismiss?: (session: ISession) => void;
  /** Forwards: open the proxied URL. */
  onOpen?: (session: ISession) => void;
  /** Whether `stop:ID` / `retry:ID` is in flight. */
  isBusy?: (action: string) => boolean;
}

export interface ISessionCardProps extends ISessionActions {
  session: ISession;
  /** Epoch ms, for the uptime. */
  now: number;
  progress?: IProgress | null;
  error?: IRemoteError | null;
  /** Display name of the session's profile kernel, if known. */
  displayName?: string;
  activity?: IKernelActivity | null;
}

/** Title of a card: the profile, else the kernel id's start. */
export function sessionTitle(session: ISession): string {
  if (session.profile) {
    return session.profile;
  }
  if (session.kind === 'forward') {
    return `Port ${session.remote_port ?? '?'} on ${session.server}`;
  }
  return `Kernel ${(session.kernel_id ?? session.id).slice(0, 8)}`;
}

/** One remote session: state in words, where it runs, and what can be done. */
export function SessionCard(props: ISessionCardProps): JSX.Element {
  const {
    session,
    now,
    progress,
    error,
    displayName,
    activity,
    onStop,
    onRetry,
    onDismiss,
    onOpen,
    isBusy
  } = props;
  const title = sessionTitle(session);
  const stopping = isBusy?.(`stop:${session.id}`) ?? false;
  const retrying = isBusy?.(`retry:${session.id}`) ?? false;
  const stopped = session.state === 'stopped';
  const uptime = session.started > 0 ? formatDuration(now / 1000 - session.started) : '';
  const stage = progress ? PROGRESS_STAGES.indexOf(progress.stage as never) : -1;
  const lastActivity = activity?.last_activity ? Date.parse(activity.last_activity) : NaN;
  const headingId = `jp-remote-session-${session.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li
      className={`jp-remote-Session jp-remote-Session-${session.state}`}
      aria-labelledby={headingId}
      data-session-id={session.id}
    >
      <div className="jp-remote-Session-header">
        <h4 className="jp-remote-Session-title" id={headingId}>
          <span className="jp-remote-VisuallyHidden">Session </span>
          {title}
          <span className="jp-remote-VisuallyHidden">: {stateLabel(session.state)}</span>
        </h4>
        <StateBadge state={session.state} />
      </div>
      {displayName && <div className="jp-remote-Session-display">{displayName}</div>}
      <dl className="jp-remote-Details">
        <div className="jp-remote-Detail">
          <dt>Server</dt>
          <dd>{session.server || '—'}</dd>
        </div>
        {session.kind === 'forward' && (
          <div className="jp-remote-Detail">
            <dt>Forward</dt>
            <dd>
              {/* Said, never linked: a page opened on the bare tunnel would share the
                  browser's cookies of 127.0.0.1 with Jupyter (cookies ignore ports). */}
              <code title={RAW_PORT_NOTE}>
                localhost:{session.local_port ?? '?'} → {session.server}:{session.remote_port ?? '?'}
              </code>
            </dd>
          </div>
        )}
        {!displayName && (session.python || session.profile) && (
          <div className="jp-remote-Detail">
            <dt>Python</dt>
            <dd>
              <code>{session.python ?? session.profile}</code>
            </dd>
          </div>
        )}
        {!stopped && uptime && (
          <div className="jp-remote-Detail">
            <dt>Uptime</dt>
            <dd className="jp-remote-Session-uptime">{uptime}</dd>
          </div>
        )}
        {!stopped && !isNaN(lastActivity) && (
          <div className="jp-remote-Detail">
            <dt>Activity</dt>
            <dd>
              {activity?.execution_state ? `${activity.execution_state}, ` : ''}
              {formatAgo(lastActivity, now)}
            </dd>
          </div>
        )}
        {session.reconnects > 0 && (
          <div className="jp-remote-Detail">
            <dt>Reconnects</dt>
            <dd>{session.reconnects}</dd>
          </div>
        )}
      </dl>
      {progress && session.state === 'connecting' && (
        <div className="jp-remote-Progress" role="status" aria-live="polite">
          <progress
            max={PROGRESS_STAGES.length - 1}
            value={Math.max(0, stage)}
            aria-label="Kernel start progress"
          />
          <span>
            {progress.stage}
            {progress.message ? `: ${progress.message}` : ''}
          </span>
        </div>
      )}
      {session.warnings?.map(warning => (
        <p key={warning} className="jp-remote-Warning" role="note">
          <span aria-hidden="true">⚠ </span>
          {warning}
        </p>
      ))}
      {session.state !== 'running' && session.reason && (
        <p className="jp-remote-Session-reason">
          <strong>Why:</strong> {session.reason}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      <div className="jp-remote-Actions">
        {session.kind === 'forward' && session.url && onOpen && !stopped && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Open ${title} in a new tab`}
            onClick={() => onOpen(session)}
          >
            Open
          </button>
        )}
        {session.state === 'disconnected' && onRetry && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Retry session ${title}`}
            onClick={() => onRetry(session)}
            disabled={retrying}
          >
            {retrying ? 'Retrying…' : 'Retry'}
          </button>
        )}
        {!stopped && onStop && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-warn jp-remote-SmallButton"
            aria-label={`Stop session ${title}`}
            onClick={() => onStop(session)}
            disabled={stopping}
          >
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
        {stopped && onDismiss && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Dismiss session ${title}`}
            onClick={() => onDismiss(session)}
          >
            Dismiss
          </button>
        )}
      </div>
    </li>
  );
}

export interface ISessionListProps extends ISessionActions {
  sessions: readonly ISession[];
  now: number;
  progressOf?: (kernelId: string) => IProgress | null;
  errorOf?: (id: string) => IRemoteError | null;
  displayNameOf?: (session: ISession) => string | undefined;
  activityOf?: (session: ISession) => IKernelActivity | null | undefined;
}

/** The session cards. */
export function SessionList(props: ISessionListProps): JSX.Element {
  const { sessions, now, progressOf, errorOf, displayNameOf, activityOf } = props;
  return (
    <ul className="jp-remote-SessionList" aria-label="Remote sessions">
      {sessions.map(session => (
        <SessionCard
          key={session.id}
          session={session}
          now={now}
          progress={progressOf?.(session.id) ?? null}
          error={errorOf?.(session.id) ?? null}
          displayName={displayNameOf?.(session)}
          activity={activityOf?.(session) ?? null}
          onStop={props.onStop}
          onRetry={props.onRetry}
          onDismiss={props.onDismiss}
          onOpen={props.onOpen}
          isBusy={props.isBusy}
        />
      ))}
    </ul>
  );
}
