import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ICatalogModel, IServer, ISessionsModel } from '../tokens';
import { Copyable } from './Copyable';
import { RemoteKernels } from './ServerTools';

const AUTH_WORDS: Record<string, string> = { token: 'token', password: 'password', none: 'none' };

export interface IJupyterServerItemProps {
  server: IServer;
  catalog: ICatalogModel;
  sessions: ISessionsModel;
  sidebar: SidebarModel;
}

/**
 * One saved Jupyter server (a server that already runs elsewhere): where it
 * is, how it is reached, its kernelspecs (each opens a notebook), the kernels
 * it runs (Attach, Stop), Edit and Remove.
 */
export function JupyterServerItem({ server, catalog, sessions, sidebar }: IJupyterServerItemProps): JSX.Element {
  const specs = catalog.kernelspecsOf(server.name);
  const listing = catalog.isBusy(`kernelspecs:${server.name}`);
  const removing = catalog.isBusy(`remove-server:${server.name}`);
  const tool = sidebar.openTool(server.name);
  const needsSecret = server.auth !== 'none' && !server.has_secret;
  const headingId = `jp-remote-server-${server.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  React.useEffect(() => {
    if (specs === null && !listing) {
      void catalog.loadKernelspecs(server.name);
    }
    // once per server shown: a failure stays as the action error, with its Retry
  }, [server.name]);
  return (
    <li className="jp-remote-Server jp-remote-JupyterServer" aria-labelledby={headingId}>
      <div className="jp-remote-Server-header">
        <h4 className="jp-remote-Server-name" id={headingId}>
          {server.name}
        </h4>
        <span className="jp-remote-Tag" title="A Jupyter server that already runs elsewhere">
          Jupyter
        </span>
        {server.readonly && <span className="jp-remote-Tag jp-remote-Tag-readonly">read-only</span>}
      </div>
      <dl className="jp-remote-Details jp-remote-Server-details">
        <div className="jp-remote-Detail">
          <dt>URL</dt>
          <dd className="jp-remote-Server-address">
            <Copyable value={server.url ?? ''} kind="path" label={`URL of ${server.name}`} />
          </dd>
        </div>
        <div className="jp-remote-Detail">
          <dt>Auth</dt>
          <dd className="jp-remote-Server-auth">
            {AUTH_WORDS[server.auth] ?? server.auth}
            {needsSecret && <span className="jp-remote-Note"> (none saved: Edit to give it)</span>}
          </dd>
        </div>
        {server.via && (
          <div className="jp-remote-Detail">
            <dt>Via</dt>
            <dd className="jp-remote-Server-jump">
              SSH server <code>{server.via}</code>
            </dd>
          </div>
        )}
        {server.ca_file && (
          <div className="jp-remote-Detail">
            <dt>CA file</dt>
            <dd>
              <Copyable value={server.ca_file} kind="path" label={`CA file of ${server.name}`} />
            </dd>
          </div>
        )}
      </dl>
      {server.warnings?.map(warning => (
        <p key={warning} className="jp-remote-Warning" role="note">
          <span aria-hidden="true">⚠ </span>
          {warning}
        </p>
      ))}
      <div className="jp-remote-Actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-remote-SmallButton"
          aria-label={`List the kernelspecs of ${server.name} again`}
          onClick={() => void catalog.loadKernelspecs(server.name)}
          disabled={listing}
        >
          {listing ? 'Listing…' : 'Refresh kernels'}
        </button>
        {!server.readonly && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Edit server ${server.name}`}
            onClick={() => sidebar.openEditForm(server)}
          >
            Edit
          </button>
        )}
        {!server.readonly && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Remove server ${server.name}`}
            onClick={() => void sidebar.removeServer(server)}
            disabled={removing}
          >
            {removing ? 'Removing…' : 'Remove'}
          </button>
        )}
      </div>
      {specs && specs.length > 0 && (
        <ul className="jp-remote-ProfileList" aria-label={`Kernelspecs of ${server.name}`}>
          {specs.map(spec => (
            <li key={spec.name} className="jp-remote-Profile" aria-label={`Kernelspec ${spec.display_name}`}>
              <div className="jp-remote-Profile-header">
                <span className="jp-remote-Profile-name">{spec.display_name}</span>
                {spec.default && <span className="jp-remote-Tag">default</span>}
              </div>
              <dl className="jp-remote-Details">
                <div className="jp-remote-Detail">
                  <dt>Kernel</dt>
                  <dd>
                    <code>{spec.kernel_name}</code>
                  </dd>
                </div>
              </dl>
              <div className="jp-remote-Actions">
                <button
                  type="button"
                  className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
                  aria-label={`Open a notebook on ${spec.display_name}`}
                  onClick={() => sidebar.openKernelspec(spec.kernel_name)}
                >
                  Open notebook
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {specs && specs.length === 0 && (
        <p className="jp-remote-Note jp-remote-Server-noProfiles">This Jupyter server offers no kernelspec.</p>
      )}
      <div className="jp-remote-ServerTools">
        <button
          type="button"
          className="jp-remote-LinkButton"
          aria-expanded={tool === 'kernels'}
          onClick={() => sidebar.toggleTool(server.name, 'kernels')}
        >
          <span aria-hidden="true">{tool === 'kernels' ? '▾ ' : '▸ '}</span>
          Kernels on the server
        </button>
      </div>
      {tool === 'kernels' && <RemoteKernels server={server.name} sessions={sessions} sidebar={sidebar} />}
    </li>
  );
}
