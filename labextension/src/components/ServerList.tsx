import * as React from 'react';

import { IRemoteKernelsState } from '../model';
import { IForwardInput, IProfile, IRemoteError, IRemoteKernel, IServer } from '../tokens';
import { authLabel, formatAddress, formatDuration } from './format';
import { ForwardForm, RemoteKernels } from './ServerTools';

/** The per-server tools that fold out under it. */
export type ServerTool = 'kernels' | 'forward';

/** What the server list can ask for; every callback is optional. */
export interface IServerActions {
  /** Open the connect wizard (test, environment, new profile). */
  onConnect?: (server: IServer) => void;
  onEdit?: (server: IServer) => void;
  onRemove?: (server: IServer) => void;
  /** Open a new notebook on a profile's kernel. */
  onOpenNotebook?: (profile: IProfile) => void;
  onRemoveProfile?: (profile: IProfile) => void;
  /** Whether an action key (`remove-server:NAME`...) is in flight. */
  isBusy?: (action: string) => boolean;
  /** Which tool is folded out under a server (none without these). */
  openTool?: (server: string) => ServerTool | null;
  onToggleTool?: (server: string, tool: ServerTool) => void;
  remoteKernelsOf?: (server: string) => IRemoteKernelsState | null;
  /** Ids of the kernels that have a session here. */
  attachedIds?: ReadonlySet<string>;
  /** Epoch ms. */
  now?: number;
  onRefreshKernels?: (server: string) => void;
  onAttach?: (server: string, kernel: IRemoteKernel) => void;
  onStopRemoteKernel?: (server: string, kernel: IRemoteKernel) => void;
  onForward?: (input: IForwardInput) => void;
  forwardErrorOf?: (server: string) => IRemoteError | null;
}

export interface IProfileItemProps extends IServerActions {
  profile: IProfile;
}

/** One profile of a server: its kernel and actions. */
export function ProfileItem(props: IProfileItemProps): JSX.Element {
  const { profile, onOpenNotebook, onRemoveProfile, isBusy } = props;
  const removing = isBusy?.(`remove-profile:${profile.name}`) ?? false;
  const env = profile.python ?? (profile.kernelspec ? `kernelspec ${profile.kernelspec}` : '');
  return (
    <li className="jp-remote-Profile" aria-label={`Profile ${profile.name}`}>
      <div className="jp-remote-Profile-header">
        <span className="jp-remote-Profile-name">{profile.name}</span>
        {profile.readonly && <span className="jp-remote-Tag">read-only</span>}
      </div>
      <div className="jp-remote-Profile-display">{profile.display_name ?? profile.kernel_name}</div>
      <dl className="jp-remote-Details">
        <div className="jp-remote-Detail">
          <dt>Kernel</dt>
          <dd>
            <code>{profile.kernel_name}</code>
          </dd>
        </div>
        {env && (
          <div className="jp-remote-Detail">
            <dt>Python</dt>
            <dd>
              <code>{env}</code>
            </dd>
          </div>
        )}
        {profile.cwd && (
          <div className="jp-remote-Detail">
            <dt>Folder</dt>
            <dd>
              <code>{profile.cwd}</code>
            </dd>
          </div>
        )}
        {profile.idle_timeout > 0 && (
          <div className="jp-remote-Detail">
            <dt>Idle stop</dt>
            <dd>after {formatDuration(profile.idle_timeout)}</dd>
          </div>
        )}
      </dl>
      <div className="jp-remote-Actions">
        {onOpenNotebook && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Open a notebook on profile ${profile.name}`}
            onClick={() => onOpenNotebook(profile)}
          >
            Open notebook
          </button>
        )}
        {onRemoveProfile && !profile.readonly && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Remove profile ${profile.name}`}
            onClick={() => onRemoveProfile(profile)}
            disabled={removing}
          >
            {removing ? 'Removing…' : 'Remove'}
          </button>
        )}
      </div>
    </li>
  );
}

export interface IServerItemProps extends IServerActions {
  server: IServer;
  profiles?: readonly IProfile[];
}

/** One saved server with its profiles. */
export function ServerItem(props: IServerItemProps): JSX.Element {
  const { server, profiles = [], onConnect, onEdit, onRemove, isBusy } = props;
  const address = formatAddress(server);
  const needsSecret = server.auth === 'password' && !server.has_secret;
  const removing = isBusy?.(`remove-server:${server.name}`) ?? false;
  const headingId = `jp-remote-server-${server.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li className="jp-remote-Server" aria-labelledby={headingId}>
      <div className="jp-remote-Server-header">
        <h4 className="jp-remote-Server-name" id={headingId}>
          {server.name}
        </h4>
        {server.readonly && (
          <span
            className="jp-remote-Tag jp-remote-Tag-readonly"
            title="Defined by your administrator in the Jupyter server configuration; it cannot be changed here."
          >
            read-only
          </span>
        )}
      </div>
      <dl className="jp-remote-Details jp-remote-Server-details">
        <div className="jp-remote-Detail">
          <dt>Address</dt>
          <dd className="jp-remote-Server-address">
            <code>{address}</code>
          </dd>
        </div>
        <div className="jp-remote-Detail">
          <dt>Auth</dt>
          <dd className="jp-remote-Server-auth">
            {authLabel(server.auth)}
            {needsSecret && <span className="jp-remote-Note"> (no password saved)</span>}
          </dd>
        </div>
        {server.auth === 'key' && server.identity && (
          <div className="jp-remote-Detail">
            <dt>Key</dt>
            <dd>
              <code>{server.identity}</code>
            </dd>
          </div>
        )}
        {server.jump && (
          <div className="jp-remote-Detail">
            <dt>Via</dt>
            <dd className="jp-remote-Server-jump">
              <code>{server.jump}</code>
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
        {onConnect && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            aria-label={`Connect to ${server.name} and add a profile`}
            onClick={() => onConnect(server)}
          >
            {profiles.length ? 'New profile…' : 'Connect…'}
          </button>
        )}
        {onEdit && !server.readonly && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Edit server ${server.name}`}
            onClick={() => onEdit(server)}
          >
            Edit
          </button>
        )}
        {onRemove && !server.readonly && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            aria-label={`Remove server ${server.name}`}
            onClick={() => onRemove(server)}
            disabled={removing}
          >
            {removing ? 'Removing…' : 'Remove'}
          </button>
        )}
      </div>
      {props.onToggleTool && (
        <div className="jp-remote-ServerTools">
          {(['kernels', 'forward'] as const).map(tool => {
            const open = props.openTool?.(server.name) === tool;
            return (
              <button
                key={tool}
                type="button"
                className="jp-remote-LinkButton"
                aria-expanded={open}
                onClick={() => props.onToggleTool!(server.name, tool)}
              >
                <span aria-hidden="true">{open ? '▾ ' : '▸ '}</span>
                {tool === 'kernels' ? 'Kernels on the server' : 'Forward a port'}
              </button>
            );
          })}
        </div>
      )}
      {props.openTool?.(server.name) === 'kernels' && (
        <RemoteKernels
          server={server.name}
          state={props.remoteKernelsOf?.(server.name) ?? null}
          attachedIds={props.attachedIds ?? new Set()}
          now={props.now ?? Date.now()}
          onRefresh={() => props.onRefreshKernels?.(server.name)}
          onAttach={kernel => props.onAttach?.(server.name, kernel)}
          onStop={kernel => props.onStopRemoteKernel?.(server.name, kernel)}
          isBusy={isBusy}
        />
      )}
      {props.openTool?.(server.name) === 'forward' && props.onForward && (
        <ForwardForm
          server={server.name}
          busy={isBusy?.(`forward:${server.name}`) ?? false}
          error={props.forwardErrorOf?.(server.name) ?? null}
          onSubmit={props.onForward}
        />
      )}
      {profiles.length > 0 ? (
        <ul className="jp-remote-ProfileList" aria-label={`Profiles of ${server.name}`}>
          {profiles.map(profile => (
            <ProfileItem key={profile.name} {...props} profile={profile} />
          ))}
        </ul>
      ) : (
        <p className="jp-remote-Note jp-remote-Server-noProfiles">
          No profile yet: Connect to choose a Python environment and get a kernel.
        </p>
      )}
    </li>
  );
}

export interface IServerListProps extends IServerActions {
  servers: readonly IServer[];
  profiles?: readonly IProfile[];
}

/** The saved servers, as a semantic list. */
export function ServerList(props: IServerListProps): JSX.Element {
  const { servers, profiles = [] } = props;
  return (
    <ul className="jp-remote-ServerList" aria-label="Saved servers">
      {servers.map(server => (
        <ServerItem
          key={server.name}
          {...props}
          server={server}
          profiles={profiles.filter(p => p.server === server.name)}
        />
      ))}
    </ul>
  );
}
