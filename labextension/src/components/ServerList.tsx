import * as React from 'react';

import { IServer } from '../tokens';

/** `user@host:port`, leaving out what SSH will default. */
export function formatAddress(server: Pick<IServer, 'user' | 'host' | 'port'>): string {
  const user = server.user ? `${server.user}@` : '';
  const port = server.port !== null && server.port !== undefined ? `:${server.port}` : '';
  return `${user}${server.host}${port}`;
}

const AUTH_LABELS: Record<string, string> = {
  key: 'SSH key',
  password: 'password',
  agent: 'SSH agent'
};

/** Human words for an auth method (unknown methods are shown as they are). */
export function authLabel(auth: string): string {
  return AUTH_LABELS[auth] ?? auth;
}

export interface IServerItemProps {
  server: IServer;
}

/** One saved server. */
export function ServerItem({ server }: IServerItemProps): JSX.Element {
  const address = formatAddress(server);
  const needsSecret = server.auth === 'password' && !server.has_secret;
  return (
    <li className="jp-remote-Server" aria-label={`Server ${server.name}`}>
      <div className="jp-remote-Server-header">
        <span className="jp-remote-Server-name">{server.name}</span>
        {server.readonly && (
          <span
            className="jp-remote-Tag jp-remote-Tag-readonly"
            title="Defined by your administrator in the Jupyter server configuration; it cannot be changed here."
          >
            read-only
          </span>
        )}
      </div>
      <dl className="jp-remote-Server-details">
        <div className="jp-remote-Server-detail">
          <dt>Address</dt>
          <dd className="jp-remote-Server-address">
            <code>{address}</code>
          </dd>
        </div>
        <div className="jp-remote-Server-detail">
          <dt>Auth</dt>
          <dd className="jp-remote-Server-auth">
            {authLabel(server.auth)}
            {needsSecret && (
              <span className="jp-remote-Server-note"> (no password saved)</span>
            )}
          </dd>
        </div>
        {server.jump && (
          <div className="jp-remote-Server-detail">
            <dt>Via</dt>
            <dd className="jp-remote-Server-jump">
              <code>{server.jump}</code>
            </dd>
          </div>
        )}
      </dl>
    </li>
  );
}

export interface IServerListProps {
  servers: readonly IServer[];
}

/** The saved servers, as a semantic list. */
export function ServerList({ servers }: IServerListProps): JSX.Element {
  return (
    <ul className="jp-remote-ServerList" aria-label="Saved servers">
      {servers.map(server => (
        <ServerItem key={server.name} server={server} />
      ))}
    </ul>
  );
}
