/**
 * What CatalogModel (model.ts) is made with: the REST calls it makes and their
 * defaults (api/), its options, and how often it polls. For tests and for other
 * extensions that make a CatalogModel; model.ts re-exports them.
 */
import * as api from '../api';
import { IHostKey, IJupyterKernelspec, IProfile, IProfileInput, IServer, IServerGpus, IServerInput } from '../tokens';

/** How often servers/profiles/keys are re-fetched while the panel is shown. */
export const POLL_INTERVAL_MS = 10 * 1000;

/** Upper bound of the back-off after failures. */
export const POLL_MAX_MS = 5 * 60 * 1000;

/** The REST calls the catalog makes (defaults: api/). */
export interface ICatalogAPI {
  listServers: () => Promise<IServer[]>;
  addServer: (input: IServerInput) => Promise<IServer>;
  updateServer: (name: string, input: IServerInput) => Promise<IServer>;
  removeServer: (name: string) => Promise<void>;
  listProfiles: () => Promise<IProfile[]>;
  addProfile: (input: IProfileInput, options?: api.ISaveProfileOptions) => Promise<IProfile>;
  updateProfile: (
    name: string,
    changes: Partial<IProfileInput>,
    options?: api.ISaveProfileOptions
  ) => Promise<IProfile>;
  removeProfile: (name: string) => Promise<void>;
  getServerGpus: (server: string, options?: { refresh?: boolean }) => Promise<IServerGpus>;
  listJupyterKernelspecs: (server: string) => Promise<IJupyterKernelspec[]>;
  listHostKeys: () => Promise<IHostKey[]>;
  trustHostKey: (server: string, fingerprint: string) => Promise<IHostKey>;
  removeHostKey: (hostId: string) => Promise<number>;
}

export interface ICatalogOptions {
  /** Replace some REST calls (tests). */
  api?: Partial<ICatalogAPI>;
  /** Poll interval in ms; defaults to POLL_INTERVAL_MS. */
  interval?: number;
}

export const DEFAULT_CATALOG_API: ICatalogAPI = {
  listServers: api.listServers,
  addServer: api.addServer,
  updateServer: api.updateServer,
  removeServer: api.removeServer,
  listProfiles: api.listProfiles,
  addProfile: api.addProfile,
  updateProfile: api.updateProfile,
  removeProfile: api.removeProfile,
  getServerGpus: api.getServerGpus,
  listJupyterKernelspecs: api.listJupyterKernelspecs,
  listHostKeys: api.listHostKeys,
  trustHostKey: api.trustHostKey,
  removeHostKey: api.removeHostKey
};
