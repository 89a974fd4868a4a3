import * as React from 'react';

import { SidebarModel } from '../sidebar/model';
import { ICatalogModel, IServer } from '../tokens';

/**
 * What both kinds of saved server show alike, used by ServerList's SSH item and
 * JupyterServerItem: the item with its heading, a detail row, the server's
 * warnings, Edit / Remove, and a tool's toggle. Pure components fed by the models.
 */

/** The list item of one saved server, labelled by its heading; `tags` follow the name. */
export function ServerItemFrame(props: {
  server: IServer;
  className?: string;
  tags?: React.ReactNode;
  children?: React.ReactNode;
}): JSX.Element {
  const { server } = props;
  const headingId = `jp-remote-server-${server.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li className={`jp-remote-Server${props.className ? ` ${props.className}` : ''}`} aria-labelledby={headingId}>
      <div className="jp-remote-Server-header">
        <h4 className="jp-remote-Server-name" id={headingId}>
          {server.name}
        </h4>
        {props.tags}
      </div>
      {props.children}
    </li>
  );
}

/** One term and its value in a server's or profile's details. */
export function Detail(props: {
  term: string;
  className?: string;
  title?: string;
  children?: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-remote-Detail">
      <dt>{props.term}</dt>
      <dd className={props.className} title={props.title}>
        {props.children}
      </dd>
    </div>
  );
}

/** The server's warnings (from its saved settings), one note each. */
export function ServerWarnings({ server }: { server: IServer }): JSX.Element {
  return (
    <>
      {server.warnings?.map(warning => (
        <p key={warning} className="jp-remote-Warning" role="note">
          <span aria-hidden="true">⚠ </span>
          {warning}
        </p>
      ))}
    </>
  );
}

/** Edit and Remove of a server that is not read-only. */
export function EditRemoveButtons(props: {
  server: IServer;
  catalog: ICatalogModel;
  sidebar: SidebarModel;
}): JSX.Element | null {
  const { server, catalog, sidebar } = props;
  return (
    <EditRemove
      what="server"
      name={server.name}
      readonly={server.readonly}
      removing={catalog.isBusy(`remove-server:${server.name}`)}
      onEdit={() => sidebar.openEditForm(server)}
      onRemove={() => void sidebar.removeServer(server)}
    />
  );
}

/** Edit and Remove of a saved server or profile; nothing when it is read-only (an
 * administrator's). */
export function EditRemove(props: {
  what: 'server' | 'profile';
  name: string;
  readonly: boolean;
  removing: boolean;
  onEdit: () => void;
  onRemove: () => void;
}): JSX.Element | null {
  const { what, name, removing } = props;
  if (props.readonly) {
    return null;
  }
  return (
    <>
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-remote-SmallButton"
        aria-label={`Edit ${what} ${name}`}
        onClick={props.onEdit}
      >
        Edit
      </button>
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-remote-SmallButton"
        aria-label={`Remove ${what} ${name}`}
        onClick={props.onRemove}
        disabled={removing}
      >
        {removing ? 'Removing…' : 'Remove'}
      </button>
    </>
  );
}

/** The toggle that shows or hides one of a server's tools (kernels, forward). */
export function ToolToggle(props: { open: boolean; label: string; onToggle: () => void }): JSX.Element {
  return (
    <button type="button" className="jp-remote-LinkButton" aria-expanded={props.open} onClick={props.onToggle}>
      <span aria-hidden="true">{props.open ? '▾ ' : '▸ '}</span>
      {props.label}
    </button>
  );
}
