import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ICatalogModel, IServer, ISessionsModel } from '../tokens';
import { Copyable } from './Copyable';
import { Detail, EditRemoveButtons, ServerItemFrame, ServerWarnings, ToolToggle } from './ServerItemFrame';
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
  const tool = sidebar.openTool(server.name);
  const needsSecret = server.auth !== 'none' && !server.has_secret;
  React.useEffect(() => {
    if (specs === null && !listing) {
      void catalog.loadKernelspecs(server.name);
    }
    // once per server shown: a failure stays as the action error, with its Retry
  }, [server.name]);
  const tags = (
    <>
      <span className="jp-remote-Tag" title="A Jupyter server that already runs elsewhere">
        Jupyter
      </span>
      {server.readonly && <span className="jp-remote-Tag jp-remote-Tag-readonly">read-only</span>}
    </>
  );
  return (
    <ServerItemFrame server={server} className="jp-remote-JupyterServer" tags={tags}>
      <dl className="jp-remote-Details jp-remote-Server-details">
        <Detail term="URL" className="jp-remote-Server-address">
          <Copyable value={server.url ?? ''} kind="path" label={`URL of ${server.name}`} />
        </Detail>
        <Detail term="Auth" className="jp-remote-Server-auth">
          {AUTH_WORDS[server.auth] ?? server.auth}
          {needsSecret && <span className="jp-remote-Note"> (none saved: Edit to give it)</span>}
        </Detail>
        {server.via && (
          <Detail term="Via" className="jp-remote-Server-jump">
            SSH server <code>{server.via}</code>
          </Detail>
        )}
        {server.ca_file && (
          <Detail term="CA file">
            <Copyable value={server.ca_file} kind="path" label={`CA file of ${server.name}`} />
          </Detail>
        )}
      </dl>
      <ServerWarnings server={server} />
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
        <EditRemoveButtons server={server} catalog={catalog} sidebar={sidebar} />
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
                <Detail term="Kernel">
                  <code>{spec.kernel_name}</code>
                </Detail>
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
        <ToolToggle
          open={tool === 'kernels'}
          label="Kernels on the server"
          onToggle={() => sidebar.toggleTool(server.name, 'kernels')}
        />
      </div>
      {tool === 'kernels' && <RemoteKernels server={server.name} sessions={sessions} sidebar={sidebar} />}
    </ServerItemFrame>
  );
}
