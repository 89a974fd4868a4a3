import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ISessionsModel } from '../tokens';
import { ErrorBox } from './ErrorBox';
import { formatAgo } from './format';
import { Loading } from './Loading';

export interface IRemoteKernelsProps {
  server: string;
  sessions: ISessionsModel;
  sidebar: SidebarModel;
}

/** Kernels our agent runs on a server, e.g. left running across a restart: Attach or Stop. */
export function RemoteKernels({ server, sessions, sidebar }: IRemoteKernelsProps): JSX.Element {
  const state = sessions.remoteKernelsOf(server);
  const kernels = state?.kernels ?? [];
  // the kernels this JupyterLab already has sessions for
  const attachedIds = new Set([
    ...sessions.sessions.map(s => s.id),
    ...sessions.sessions.map(s => s.remote_kernel_id ?? s.id)
  ]);
  const now = sidebar.now;
  const onRefresh = (): void => void sessions.loadRemoteKernels(server);
  return (
    <div className="jp-remote-ServerTool" aria-label={`Kernels on ${server}`} role="group">
      <div className="jp-remote-ServerTool-header">
        <span className="jp-remote-Note">
          Your kernels on {server}, also those started before this Jupyter server restarted.
        </span>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-remote-SmallButton"
          onClick={onRefresh}
          disabled={state?.loading}
          aria-label={`Look again for kernels on ${server}`}
        >
          Refresh
        </button>
      </div>
      {state?.loading && !state.loaded && <Loading label={`Asking ${server}…`} />}
      {state?.error && (
        <ErrorBox
          error={state.error}
          onRetry={onRefresh}
          retryLabel={`Retry listing the kernels on ${server}`}
        />
      )}
      {state?.loaded && !state.error && kernels.length === 0 && (
        <p className="jp-remote-EmptyState">No kernel of yours runs on {server}.</p>
      )}
      {kernels.length > 0 && (
        <ul className="jp-remote-RemoteKernelList" aria-label={`Kernels running on ${server}`}>
          {kernels.map(kernel => {
            const attached = attachedIds.has(kernel.kernel_id);
            const short = kernel.kernel_id.slice(0, 8);
            const started =
              typeof kernel.started === 'number' && kernel.started > 0
                ? formatAgo(kernel.started * 1000, now)
                : '';
            return (
              <li key={kernel.kernel_id} className="jp-remote-RemoteKernel">
                <div>
                  <strong>{kernel.profile || kernel.kernel_name || short}</strong>{' '}
                  <span className="jp-remote-Note">
                    {short} · {kernel.state}
                    {kernel.standby ? ` · standby, ${Math.round((kernel.rss ?? 0) / (1024 * 1024))} MiB` : ''}
                    {started ? ` · started ${started}` : ''}
                    {attached ? ' · attached here' : ''}
                  </span>
                </div>
                {kernel.reason && kernel.state !== 'running' && (
                  <div className="jp-remote-Note">{kernel.reason}</div>
                )}
                <div className="jp-remote-Actions">
                  {!attached && kernel.state === 'running' && !kernel.standby && (
                    <button
                      type="button"
                      className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
                      aria-label={`Attach kernel ${short} and open a notebook on it`}
                      onClick={() => void sidebar.attach(server, kernel)}
                      disabled={sessions.isBusy(`attach:${kernel.kernel_id}`)}
                    >
                      Attach
                    </button>
                  )}
                  {!attached && (
                    <button
                      type="button"
                      className="jp-Button jp-mod-styled jp-remote-SmallButton"
                      aria-label={`Stop kernel ${short} on ${server}`}
                      onClick={() => void sidebar.stopRemoteKernel(server, kernel)}
                      disabled={sessions.isBusy(`stop-remote:${kernel.kernel_id}`)}
                    >
                      Stop
                    </button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

export interface IForwardFormProps {
  server: string;
  sessions: ISessionsModel;
}

/** Forward a port on the server's 127.0.0.1 (TensorBoard, a web app) through the SSH link. */
export function ForwardForm({ server, sessions }: IForwardFormProps): JSX.Element {
  const busy = sessions.isBusy(`forward:${server}`);
  const error = sessions.forwardError(server);
  const [remote, setRemote] = React.useState('');
  const [local, setLocal] = React.useState('');
  const [problem, setProblem] = React.useState('');
  const id = `jp-remote-forward-${server.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const valid = (text: string): boolean =>
    /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
  return (
    <form
      className="jp-remote-ServerTool jp-remote-ForwardForm"
      aria-label={`Forward a port of ${server}`}
      noValidate
      onSubmit={event => {
        event.preventDefault();
        if (!valid(remote.trim()) || (local.trim() && !valid(local.trim()))) {
          setProblem('Ports are numbers from 1 to 65535.');
          return;
        }
        setProblem('');
        void sessions.openForward({
          server,
          remote_port: Number(remote.trim()),
          local_port: local.trim() ? Number(local.trim()) : null
        });
      }}
    >
      <div className="jp-remote-FieldRow">
        <div className="jp-remote-Field">
          <label htmlFor={`${id}-remote`}>Remote port</label>
          <input
            id={`${id}-remote`}
            className="jp-mod-styled jp-remote-Input"
            inputMode="numeric"
            placeholder="6006"
            value={remote}
            onChange={e => setRemote(e.target.value)}
            aria-invalid={problem ? true : undefined}
          />
        </div>
        <div className="jp-remote-Field">
          <label htmlFor={`${id}-local`}>Local port (optional)</label>
          <input
            id={`${id}-local`}
            className="jp-mod-styled jp-remote-Input"
            inputMode="numeric"
            placeholder="any free port"
            value={local}
            onChange={e => setLocal(e.target.value)}
          />
        </div>
      </div>
      {problem && (
        <span className="jp-remote-Field-error">
          <span aria-hidden="true">⚠ </span>
          {problem}
        </span>
      )}
      {error && <ErrorBox error={error} title="Forwarding the port" />}
      <div className="jp-remote-Actions">
        <button type="submit" className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton" disabled={busy}>
          {busy ? 'Forwarding…' : 'Forward'}
        </button>
      </div>
      <p className="jp-remote-Note">
        Reaches 127.0.0.1:PORT on {server}; its card under Sessions opens it through
        Jupyter&apos;s login.
      </p>
    </form>
  );
}
