/**
 * Saved servers: `remote/servers` (CRUD and the connection test).
 */
import { IServer, IServerInput, ITestResult } from '../rest';
import { getList, jsonInit, requestAPI, seg } from './requests';

/** GET remote/servers: every saved (and admin-defined) server. */
export function listServers(): Promise<IServer[]> {
  return getList<IServer>('servers');
}

/** GET remote/servers/{name}. */
export function getServer(name: string): Promise<IServer> {
  return requestAPI<IServer>(`servers/${seg(name)}`, { method: 'GET' });
}

/** POST remote/servers: save a new server (400 with `field` when invalid). */
export function addServer(input: IServerInput): Promise<IServer> {
  return requestAPI<IServer>('servers', jsonInit('POST', input));
}

/** PATCH remote/servers/{name}: change some fields. */
export function updateServer(name: string, input: IServerInput): Promise<IServer> {
  return requestAPI<IServer>(`servers/${seg(name)}`, jsonInit('PATCH', input));
}

/** DELETE remote/servers/{name}. */
export async function removeServer(name: string): Promise<void> {
  await requestAPI<void>(`servers/${seg(name)}`, { method: 'DELETE' });
}

/**
 * POST remote/servers/{name}/test: connect and report. A 409 carries
 * `hostkey_unknown`/`hostkey_changed` (see hostKeyUnknown/hostKeyChanged).
 */
export function testServer(name: string): Promise<ITestResult> {
  return requestAPI<ITestResult>(`servers/${seg(name)}/test`, { method: 'POST' });
}
