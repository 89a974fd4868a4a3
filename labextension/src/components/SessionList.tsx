import * as React from 'react';

import { activityText } from '../sessions/activity';
import { SidebarModel } from '../sidebar/model';
import { ISession, ISessionsModel, ProgressStage } from '../tokens';
import { Copyable } from './Copyable';
import { ErrorBox } from './ErrorBox';
import { JobDetails } from './JobDetails';
import { formatAgo, formatElapsed, sessionTitle } from './format';
import { StateBadge, stateLabel } from './StateBadge';

/** What a forward's local port is, on its card (a tooltip, never a link). */
export const RAW_PORT_NOTE =
  'A plain tunnel, like ssh -L. Open the page with Open: pages opened on this port ' +
  'directly share the browser\'s cookies with JupyterLab.';

/**
 * Where each stage of a kernel's start puts its progress bar. Attaching to a
 * kernel that already runs takes the place of starting one.
 */
export const PROGRESS_STEPS: Record<ProgressStage, number> = {
  connecting: 0,
  tunnel: 0,
  authenticating: 1,
  'submitting job': 2,
  queued: 2,
  'starting kernel': 2,
  attaching: 2,
  forwarding: 3,
  websocket: 3,
  ready: 4
};

/** The last step of the progress bar. */
export const PROGRESS_LAST_STEP = 4;

export interface ISessionCardProps {
  session: ISession;
  sessions: ISessionsModel;
  sidebar: SidebarModel;
}

/** One remote session: state in words, where it runs, what happened, and what can be done. */
export function SessionCard({ session, sessions, sidebar }: ISessionCardProps): JSX.Element {
  const now = sidebar.now;
  const kernelId = session.kernel_id ?? session.id;
  const progress = sessions.progressOf(session.id);
  const error = sessions.errorOf(session.id);
  const notices = sessions.noticesOf(kernelId);
  const activity = sessions.activityOf(session);
  const displayName = sidebar.displayNameOf(session);
  const title = sessionTitle(session);
  const stopping = sessions.isBusy(`stop:${session.id}`);
  const retrying = sessions.isBusy(`retry:${session.id}`);
  const stopped = session.state === 'stopped';
  const uptime = session.started > 0 ? formatElapsed(now / 1000 - session.started) : '';
  const step = progress ? PROGRESS_STEPS[progress.stage] ?? 0 : 0;
  const activityLine = activityText(activity, now);
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
        {session.target === 'jupyter' && (
          <div className="jp-remote-Detail">
            <dt>Kernel</dt>
            <dd className="jp-remote-Session-jupyterKernel">
              <code>{session.kernel_name || '?'}</code> on the Jupyter server
              {session.remote_kernel_id ? ` (its kernel ${session.remote_kernel_id.slice(0, 8)})` : ''}
            </dd>
          </div>
        )}
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
              <Copyable value={session.python ?? session.profile ?? ''} kind="path" label={`Python of ${title}`} />
            </dd>
          </div>
        )}
        {!stopped && uptime && (
          <div className="jp-remote-Detail">
            <dt>Uptime</dt>
            <dd className="jp-remote-Session-uptime">{uptime}</dd>
          </div>
        )}
        {!stopped && activityLine && (
          <div className="jp-remote-Detail">
            <dt>Activity</dt>
            <dd className="jp-remote-Session-activity">{activityLine}</dd>
          </div>
        )}
        {session.job && <JobDetails job={session.job} state={session.state} nowMs={now} />}
        {session.reconnects > 0 && (
          <div className="jp-remote-Detail">
            <dt>Reconnects</dt>
            <dd>{session.reconnects}</dd>
          </div>
        )}
      </dl>
      {progress && session.state === 'connecting' && (
        <div className="jp-remote-Progress" role="status" aria-live="polite">
          <progress max={PROGRESS_LAST_STEP} value={step} aria-label="Kernel start progress" />
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
      {notices.length > 0 && (
        <div className="jp-remote-Notices">
          {notices.map((notice, index) => (
            <p key={`${notice.time}:${index}`} className="jp-remote-Notice" role="note">
              <span aria-hidden="true">ℹ </span>
              {notice.message}
              {typeof notice.time === 'number' && (
                <span className="jp-remote-Note"> ({formatAgo(notice.time * 1000, now)})</span>
              )}
            </p>
          ))}
          <button
            type="button"
            className="jp-remote-LinkButton"
            aria-label={`Dismiss the notices of session ${title}`}
            onClick={() => sessions.dismissNotices(kernelId)}
          >
            Dismiss notices
          </button>
        </div>
      )}
      {session.state !== 'running' && session.reason && (
        <p className="jp-remote-Session-reason">
          <strong>Why:</strong> {session.reason}
        </p>
      )}
      {session.start_failed && session.hint && (
        <p className="jp-remote-Session-hint">
          <strong>Fix:</strong> {session.hint}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      <div className="jp-remote-Actions">
        {session.kind === 'forward' && session.url && !stopped && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Open ${title} in a new tab`}
            onClick={() => sidebar.openForward(session)}
          >
            Open
          </button>
        )}
        {session.state === 'disconnected' && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Retry session ${title}`}
            onClick={() => void sessions.retrySession(session.id)}
            disabled={retrying}
          >
            {retrying ? 'Retrying…' : 'Retry'}
          </button>
        )}
        {!stopped && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-warn jp-remote-SmallButton"
            aria-label={`Stop session ${title}`}
            onClick={() => void sidebar.stopSession(session)}
            disabled={stopping}
          >
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
        {stopped && sidebar.canRetryStart(session) && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Retry starting the kernel of session ${title}`}
            onClick={() => sidebar.retryStart(session)}
          >
            Retry
          </button>
        )}
        {stopped && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Dismiss session ${title}`}
            onClick={() => sessions.dismissSession(session.id)}
          >
            Dismiss
          </button>
        )}
      </div>
    </li>
  );
}

export interface ISessionListProps {
  sessions: ISessionsModel;
  sidebar: SidebarModel;
}

/** The session cards. */
export function SessionList({ sessions, sidebar }: ISessionListProps): JSX.Element {
  return (
    <ul className="jp-remote-SessionList" aria-label="Remote sessions">
      {sessions.sessions.map(session => (
        <SessionCard key={session.id} session={session} sessions={sessions} sidebar={sidebar} />
      ))}
    </ul>
  );
}
