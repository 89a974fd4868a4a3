/**
 * Trusted host keys: `remote/hostkeys` (list, trust an offered fingerprint, remove).
 */
import { IHostKey } from '../rest';
import { getList, jsonInit, requestAPI, seg } from './requests';

/** GET remote/hostkeys: ours and those read from ~/.ssh/known_hosts. */
export function listHostKeys(): Promise<IHostKey[]> {
  return getList<IHostKey>('hostkeys');
}

/** POST remote/hostkeys: trust the key `server` offers now, if it has this fingerprint. */
export function trustHostKey(server: string, fingerprint: string): Promise<IHostKey> {
  return requestAPI<IHostKey>('hostkeys', jsonInit('POST', { server, fingerprint }));
}

/** DELETE remote/hostkeys/{host_id}: resolves with how many keys were removed. */
export async function removeHostKey(hostId: string): Promise<number> {
  const answer = await requestAPI<{ removed?: number } | undefined>(
    `hostkeys/${seg(hostId)}`,
    { method: 'DELETE' }
  );
  return typeof answer?.removed === 'number' ? answer.removed : 0;
}
