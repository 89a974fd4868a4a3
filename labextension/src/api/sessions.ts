/**
 * Sessions (`remote/sessions`), the kernels our agent runs on a server
 * (`remote/servers/{name}/kernels`) and the URL of the events websocket.
 */
import { ServerConnection } from '@jupyterlab/services';

import { ISession } from '../events';
import { IRemoteKernel } from '../rest';
import { EVENTS_PATH } from '../tokens';
import { getList, joinURL, requestAPI, seg } from './requests';

/** GET remote/sessions. */
export function listSessions(): Promise<ISession[]> {
  return getList<ISession>('sessions');
}

/** DELETE remote/sessions/{id}: the Stop button. */
export async function stopSession(id: string): Promise<void> {
  await requestAPI<void>(`sessions/${seg(id)}`, { method: 'DELETE' });
}

/** POST remote/sessions/{id}/retry: reconnect a disconnected session. */
export function retrySession(id: string): Promise<ISession> {
  return requestAPI<ISession>(`sessions/${seg(id)}/retry`, { method: 'POST' });
}

/** GET remote/servers/{name}/kernels: kernels still on the remote. */
export function listRemoteKernels(server: string): Promise<IRemoteKernel[]> {
  return getList<IRemoteKernel>(`servers/${seg(server)}/kernels`);
}

/** DELETE remote/servers/{name}/kernels/{kernel_id}. */
export async function stopRemoteKernel(server: string, kernelId: string): Promise<void> {
  await requestAPI<unknown>(`servers/${seg(server)}/kernels/${seg(kernelId)}`, {
    method: 'DELETE'
  });
}

/**
 * POST remote/servers/{name}/kernels/{kernel_id}/attach: adopt a kernel our
 * agent still runs (e.g. after this Jupyter server restarted); resolves with
 * the Jupyter kernel model (same id).
 */
export function attachRemoteKernel(
  server: string,
  kernelId: string
): Promise<{ id: string; name: string }> {
  return requestAPI<{ id: string; name: string }>(
    `servers/${seg(server)}/kernels/${seg(kernelId)}/attach`,
    { method: 'POST' }
  );
}

// ------------------------------------------------------------------- events

/**
 * The URL of the events websocket: `wsUrl` + `remote/events`, with the
 * token in the query only when the settings carry one (otherwise the
 * browser's cookie authenticates, as for JupyterLab's own websockets).
 */
export function eventsURL(
  settings: Pick<ServerConnection.ISettings, 'wsUrl' | 'token'> = ServerConnection.makeSettings()
): string {
  const url = joinURL(settings.wsUrl, EVENTS_PATH);
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}
