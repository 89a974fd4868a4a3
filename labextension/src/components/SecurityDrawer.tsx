import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ICatalogModel, IHostKey } from '../tokens';
import { Copyable } from './Copyable';
import { ErrorBox } from './ErrorBox';
import { formatDate } from './format';

export interface ISecurityDrawerProps {
  catalog: ICatalogModel;
  sidebar: SidebarModel;
}

/** Trusted host keys: host, type, fingerprint, when added; remove (ours only) with confirmation. */
export function SecurityDrawer({ catalog, sidebar }: ISecurityDrawerProps): JSX.Element {
  const open = sidebar.securityOpen;
  const error = catalog.hostKeysError;
  const keys = catalog.hostKeys.filter(key => key.source !== 'warning');
  const skipped = catalog.hostKeys.filter(key => key.source === 'warning');
  const bodyId = 'jp-remote-security-body';
  return (
    <section className="jp-remote-Section jp-remote-Security" aria-labelledby="jp-remote-security-heading">
      <h3 className="jp-remote-SectionTitle" id="jp-remote-security-heading">
        <button
          type="button"
          className="jp-remote-DrawerToggle"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => sidebar.toggleSecurity()}
        >
          <span className="jp-remote-DrawerToggle-caret" aria-hidden="true">
            {open ? '▾' : '▸'}
          </span>
          Security: trusted host keys ({keys.length})
        </button>
      </h3>
      {open && (
        <div className="jp-remote-Security-body" id={bodyId}>
          <p className="jp-remote-Note">
            SSH refuses hosts whose key is not listed here. Remove a key only
            when its host was reinstalled and you confirmed the new key with its
            administrator.
          </p>
          {error && (
            <ErrorBox
              error={error}
              onRetry={() => void catalog.refreshHostKeys()}
              retryLabel="Retry loading host keys"
            />
          )}
          {skipped.length > 0 && (
            <div className="jp-remote-Security-skipped" role="note">
              <p className="jp-remote-Note">
                Skipped known_hosts lines ({skipped.length}): fix or remove them. An
                unreadable entry for a host blocks trusting any new key for it.
              </p>
              <ul>
                {skipped.map(row => (
                  <li key={`${row.file}:${row.line}`}>
                    <code>{row.warning}</code>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {keys.length === 0 && !error ? (
            <p className="jp-remote-EmptyState">
              No trusted host keys yet. They are added when you connect to a
              server and trust its fingerprint.
            </p>
          ) : (
            <table className="jp-remote-KeyTable" aria-label="Trusted host keys">
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col">Key</th>
                  <th scope="col">
                    <span className="jp-remote-VisuallyHidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.map(key => {
                  const ours = key.source === 'jupyter-remote';
                  const busy = catalog.isBusy(`remove-hostkey:${key.host_id}`);
                  return (
                    <tr
                      key={`${key.source}:${key.file ?? ''}:${key.line ?? ''}:${key.host_id}:${key.fingerprint}`}
                    >
                      <th scope="row" className="jp-remote-KeyTable-host">
                        <code>{key.host_id}</code>
                        {key.marker === 'revoked' && (
                          <div>
                            <span className="jp-remote-StateBadge jp-remote-StateBadge-disconnected">
                              revoked: never trusted
                            </span>
                          </div>
                        )}
                        {key.marker === 'cert-authority' && (
                          <div>
                            <span className="jp-remote-StateBadge jp-remote-StateBadge-stopped">
                              certificate authority
                            </span>
                          </div>
                        )}
                        <div className="jp-remote-Note">
                          {ours
                            ? key.added
                              ? `added ${formatDate(key.added)}`
                              : 'trusted here'
                            : `from ${knownHostsPlace(key)}${key.hashed ? ', hashed host name' : ''}`}
                        </div>
                      </th>
                      <td>
                        <div>{key.key_type}</div>
                        <Copyable
                          value={key.fingerprint}
                          kind="fingerprint"
                          label={`fingerprint of ${key.host_id}`}
                        />
                      </td>
                      <td>
                        {ours ? (
                          <button
                            type="button"
                            className="jp-Button jp-mod-styled jp-remote-SmallButton"
                            aria-label={`Remove trusted key of ${key.host_id}`}
                            onClick={() => void sidebar.removeHostKey(key)}
                            disabled={busy}
                          >
                            {busy ? 'Removing…' : 'Remove'}
                          </button>
                        ) : (
                          <span
                            className="jp-remote-Note"
                            title={`Edit ${key.file ?? '~/.ssh/known_hosts'} to change it (ssh-keygen -R HOST -f FILE)`}
                          >
                            read-only
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}

/** `~/.ssh/known_hosts line 3` (the file the server read; the default when absent). */
function knownHostsPlace(key: IHostKey): string {
  const file = key.file ?? '~/.ssh/known_hosts';
  return key.line ? `${file} line ${key.line}` : file;
}
