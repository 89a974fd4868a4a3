import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ICatalogModel, IProfile, IServer, ISessionsModel } from '../tokens';
import { Copyable } from './Copyable';
import { authLabel, formatAddress, formatAgo, formatDuration, gpuLoad } from './format';
import { JupyterServerItem } from './JupyterServerItem';
import { Detail, EditRemove, EditRemoveButtons, ServerItemFrame, ServerWarnings, ToolToggle } from './ServerItemFrame';
import { ForwardForm, RemoteKernels } from './ServerTools';

/** The models the server list reads and acts on. */
export interface IServerListModels {
  catalog: ICatalogModel;
  sessions: ISessionsModel;
  sidebar: SidebarModel;
}

export interface IProfileItemProps {
  profile: IProfile;
  catalog: ICatalogModel;
  sidebar: SidebarModel;
}

/**
 * What the profile card says of its standby kernel: kept, and once the server's kernels
 * were listed (its Kernels tool), whether one is ready and the memory it holds there.
 */
export function standbyText(profile: IProfile, sidebar: SidebarModel): string {
  const listed = sidebar.sessions.remoteKernelsOf(profile.server);
  const found = listed?.loaded
    ? listed.kernels.find(k => k.standby && k.profile === profile.name && k.state === 'running')
    : undefined;
  if (!listed?.loaded) {
    return "on (the server's Kernels list shows it and its memory)";
  }
  if (!found) {
    return 'none ready now (one starts when the profile is used or saved)';
  }
  const mib = Math.round((found.rss ?? 0) / (1024 * 1024));
  return `ready, pid ${found.pid ?? '?'}, ${mib} MiB on ${profile.server}`;
}

/** One profile of a server: its kernel and actions. */
export function ProfileItem({ profile, catalog, sidebar }: IProfileItemProps): JSX.Element {
  const removing = catalog.isBusy(`remove-profile:${profile.name}`);
  const env = profile.python ?? (profile.kernelspec ? `kernelspec ${profile.kernelspec}` : '');
  return (
    <li className="jp-remote-Profile" aria-label={`Profile ${profile.name}`}>
      <div className="jp-remote-Profile-header">
        <span className="jp-remote-Profile-name">{profile.name}</span>
        {profile.readonly && <span className="jp-remote-Tag">read-only</span>}
      </div>
      <div className="jp-remote-Profile-display">{profile.display_name ?? profile.kernel_name}</div>
      <dl className="jp-remote-Details">
        <Detail term="Kernel">
          <code>{profile.kernel_name}</code>
        </Detail>
        {env && (
          <Detail term="Python">
            <Copyable value={env} kind="path" label={`Python of ${profile.name}`} />
          </Detail>
        )}
        {profile.cwd && (
          <Detail term="Folder">
            <Copyable value={profile.cwd} kind="path" label={`folder of ${profile.name}`} />
          </Detail>
        )}
        {profile.idle_timeout > 0 && (
          <Detail term="Idle stop">after {formatDuration(profile.idle_timeout)}</Detail>
        )}
        {profile.standby && <Detail term="Standby">{standbyText(profile, sidebar)}</Detail>}
      </dl>
      <div className="jp-remote-Actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
          aria-label={`Open a notebook on profile ${profile.name}`}
          onClick={() => sidebar.openNotebook(profile)}
        >
          Open notebook
        </button>
        <EditRemove
          what="profile"
          name={profile.name}
          readonly={profile.readonly}
          removing={removing}
          onEdit={() => sidebar.editProfile(profile)}
          onRemove={() => void sidebar.removeProfile(profile)}
        />
      </div>
    </li>
  );
}

export interface IServerItemProps extends IServerListModels {
  server: IServer;
}

/** One saved server with its profiles and tools. */
export function ServerItem(props: IServerItemProps): JSX.Element {
  if (props.server.kind === 'jupyter') {
    return <JupyterServerItem {...props} />;
  }
  return <SshServerItem {...props} />;
}

/** One saved SSH host with its profiles and tools. */
function SshServerItem(props: IServerItemProps): JSX.Element {
  const { server, catalog, sessions, sidebar } = props;
  const profiles = catalog.profilesOf(server.name);
  const tool = sidebar.openTool(server.name);
  const address = formatAddress(server);
  const needsSecret = server.auth === 'password' && !server.has_secret;
  const tags = server.readonly && (
    <span
      className="jp-remote-Tag jp-remote-Tag-readonly"
      title="Defined by your administrator in the Jupyter server configuration; it cannot be changed here."
    >
      read-only
    </span>
  );
  return (
    <ServerItemFrame server={server} tags={tags}>
      <dl className="jp-remote-Details jp-remote-Server-details">
        <Detail term="Address" className="jp-remote-Server-address">
          <Copyable value={address} kind="path" label={`address of ${server.name}`} />
        </Detail>
        <Detail term="Auth" className="jp-remote-Server-auth">
          {authLabel(server.auth)}
          {needsSecret && <span className="jp-remote-Note"> (no password saved)</span>}
        </Detail>
        {server.auth === 'key' && server.identity && (
          <Detail term="Key">
            <Copyable value={server.identity} kind="path" label={`key file of ${server.name}`} />
          </Detail>
        )}
        {server.jump && (
          <Detail term="Via" className="jp-remote-Server-jump">
            <code>{server.jump}</code>
          </Detail>
        )}
      </dl>
      <GpuSummary server={server} catalog={catalog} sidebar={sidebar} />
      <ServerWarnings server={server} />
      <div className="jp-remote-Actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
          aria-label={`Connect to ${server.name} and add a profile`}
          onClick={() => sidebar.connect(server)}
        >
          {profiles.length ? 'New profile…' : 'Connect…'}
        </button>
        <EditRemoveButtons server={server} catalog={catalog} sidebar={sidebar} />
      </div>
      <div className="jp-remote-ServerTools">
        {(['kernels', 'forward'] as const).map(name => (
          <ToolToggle
            key={name}
            open={tool === name}
            label={name === 'kernels' ? 'Kernels on the server' : 'Forward a port'}
            onToggle={() => sidebar.toggleTool(server.name, name)}
          />
        ))}
      </div>
      {tool === 'kernels' && <RemoteKernels server={server.name} sessions={sessions} sidebar={sidebar} />}
      {tool === 'forward' && <ForwardForm server={server.name} sessions={sessions} />}
      {profiles.length > 0 ? (
        <ul className="jp-remote-ProfileList" aria-label={`Profiles of ${server.name}`}>
          {profiles.map(profile => (
            <ProfileItem key={profile.name} profile={profile} catalog={catalog} sidebar={sidebar} />
          ))}
        </ul>
      ) : (
        <p className="jp-remote-Note jp-remote-Server-noProfiles">
          No profile yet: Connect to choose a Python environment and get a kernel.
        </p>
      )}
    </ServerItemFrame>
  );
}

/** The saved servers, as a semantic list. */
export function ServerList(props: IServerListModels): JSX.Element {
  return (
    <ul className="jp-remote-ServerList" aria-label="Saved servers">
      {props.catalog.servers.map(server => (
        <ServerItem key={server.name} {...props} server={server} />
      ))}
    </ul>
  );
}

/** A server's GPUs as its last probe saw them: one line each, and a Refresh. */
export function GpuSummary({
  server,
  catalog,
  sidebar
}: {
  server: IServer;
  catalog: ICatalogModel;
  sidebar: SidebarModel;
}): JSX.Element | null {
  const found = sidebar.gpusOf(server);
  const gpus = found?.gpus;
  if (!gpus || (!gpus.devices.length && !gpus.error)) {
    return null;
  }
  const busy = catalog.isBusy(`gpus:${server.name}`);
  const when = found?.probed_at ? formatAgo(found.probed_at * 1000, sidebar.now) : '';
  return (
    <div className="jp-remote-Gpus" role="group" aria-label={`GPUs of ${server.name}`}>
      <div className="jp-remote-Gpus-header">
        <strong>GPUs</strong>
        {when && <span className="jp-remote-Note"> ({when})</span>}
        <button
          type="button"
          className="jp-remote-LinkButton"
          aria-label={`Refresh the GPUs of ${server.name}`}
          onClick={() => void catalog.loadGpus(server.name, true)}
          disabled={busy}
        >
          {busy ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <ul className="jp-remote-GpuList">
        {gpus.devices.map(gpu => (
          <li key={gpu.uuid} className="jp-remote-Gpu">
            <span className="jp-remote-Gpu-name" title={gpu.uuid}>
              {gpu.index} · {gpu.name}
            </span>
            <span className="jp-remote-Note">{gpuLoad(gpu)}</span>
          </li>
        ))}
      </ul>
      {gpus.error && (
        <p className="jp-remote-Warning" role="note">
          <span aria-hidden="true">⚠ </span>
          {gpus.error}
        </p>
      )}
    </div>
  );
}
