/**
 * Terminals on a server (`remote/servers/{name}/terminals`) and their websocket.
 */
import { ServerConnection } from '@jupyterlab/services';

import { ISession } from '../events';
import { API_NAMESPACE } from '../tokens';
import { getList, joinURL, jsonInit, requestAPI, seg } from './requests';

/** What to open: a plain shell, or one in a tmux session that survives link drops. */
export interface ITerminalInput {
  persistent?: boolean;
  rows?: number;
  cols?: number;
}

/** GET remote/servers/{name}/terminals. */
export function listTerminals(server: string): Promise<ISession[]> {
  return getList<ISession>(`servers/${seg(server)}/terminals`);
}

/** POST remote/servers/{name}/terminals (201: the terminal, a session). */
export function openTerminal(server: string, input: ITerminalInput = {}): Promise<ISession> {
  return requestAPI<ISession>(`servers/${seg(server)}/terminals`, jsonInit('POST', input));
}

/** GET remote/servers/{name}/terminals/{id} (rejects with status 404 once it is gone). */
export function getTerminal(server: string, id: string): Promise<ISession> {
  return requestAPI<ISession>(`servers/${seg(server)}/terminals/${seg(id)}`);
}

/** DELETE remote/servers/{name}/terminals/{id}: the shell and what it started end. */
export async function closeTerminal(server: string, id: string): Promise<void> {
  await requestAPI<void>(`servers/${seg(server)}/terminals/${seg(id)}`, { method: 'DELETE' });
}

/** The websocket URL of a terminal (terminado's protocol), with the token if any. */
export function terminalSocketURL(
  server: string,
  id: string,
  settings: Pick<ServerConnection.ISettings, 'wsUrl' | 'token' | 'appendToken'> = ServerConnection.makeSettings()
): string {
  const url = joinURL(
    settings.wsUrl,
    API_NAMESPACE,
    'servers',
    seg(server),
    'terminals',
    seg(id),
    'websocket'
  );
  return settings.appendToken && settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}
