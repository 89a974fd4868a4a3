/**
 * The Slurm behind a server (its login node), as the environment probe saw it.
 */
import { IServerSlurm } from '../rest';
import { requestAPI, seg } from './requests';

/** GET remote/servers/{name}/slurm[?refresh=1]: partitions, limits, idle nodes, accounts. */
export function getServerSlurm(server: string, options: { refresh?: boolean } = {}): Promise<IServerSlurm> {
  const query = options.refresh ? '?refresh=1' : '';
  return requestAPI<IServerSlurm>(`servers/${seg(server)}/slurm${query}`, { method: 'GET' });
}
