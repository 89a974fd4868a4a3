/**
 * Forwarded ports (`remote/forwards`) and opening a forward's page.
 */
import { ServerConnection } from '@jupyterlab/services';

import { ISession } from '../events';
import { IForwardInput } from '../rest';
import { getList, joinURL, jsonInit, requestAPI, seg } from './requests';

/** GET remote/forwards. */
export function listForwards(): Promise<ISession[]> {
  return getList<ISession>('forwards');
}

/** POST remote/forwards: forward a port on the remote's 127.0.0.1 (201: the session). */
export function openForward(input: IForwardInput): Promise<ISession> {
  return requestAPI<ISession>('forwards', jsonInit('POST', input));
}

/** DELETE remote/forwards/{id}. */
export async function stopForward(id: string): Promise<void> {
  await requestAPI<void>(`forwards/${seg(id)}`, { method: 'DELETE' });
}

/**
 * The full URL of a forward's entry route (its `url` is base-relative). With
 * Jupyter's auth it redirects to the forward's own origin
 * (`http://jr-<secret>.localhost:<port>/`, when the browser runs on the Jupyter
 * server's machine) or to its sandbox route: either way its pages are never
 * same-origin with Jupyter. Never the forward's bare local port (a tunnel whose
 * pages would share the browser's cookies of 127.0.0.1).
 */
export function forwardURL(
  session: Pick<ISession, 'url'>,
  settings: Pick<ServerConnection.ISettings, 'baseUrl'> = ServerConnection.makeSettings()
): string {
  return joinURL(settings.baseUrl, session.url ?? '') + '/';
}

/** What `window.open` is to {@link openForwardTab} (a stand-in in tests). */
export type OpenWindow = (url: string, target: string, features: string) => unknown;

/**
 * Open a forward's page in a new tab, called by the session card's Open button.
 * `noopener,noreferrer`: the forwarded page gets no handle on JupyterLab's window
 * (no `window.opener` to message) and no Referer from it.
 */
export function openForwardTab(
  session: Pick<ISession, 'url'>,
  open: OpenWindow = (url, target, features) => window.open(url, target, features),
  settings?: Pick<ServerConnection.ISettings, 'baseUrl'>
): void {
  open(forwardURL(session, settings), '_blank', 'noopener,noreferrer');
}
