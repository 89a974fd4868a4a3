/**
 * Shared test data and fakes: servers, profiles, keys, sessions, a fake
 * websocket, fake REST calls for the models, and models ready to render.
 * (Not a spec: jest runs only *.spec.ts.) Each spec mocks @jupyterlab/services.
 */
import { CatalogModel } from '../catalog/model';
import { SessionsModel } from '../sessions/model';
import { IWebSocketLike } from '../sessions/link';
import { IRunningKernels } from '../sessions/model';
import { IConfirmation, SidebarModel } from '../sidebar/model';
import { IHostKey, IProfile, IServer, ISession } from '../tokens';

export const SERVERS: IServer[] = [
  {
    name: 'gpu-box',
    host: 'gpu.example.org',
    port: 22,
    user: 'ada',
    identity: null,
    auth: 'agent',
    jump: null,
    channel_transport: 'unix',
    warnings: [],
    readonly: false,
    has_secret: false
  },
  {
    name: 'cluster',
    host: 'login.cluster.example.org',
    port: null,
    user: null,
    identity: null,
    auth: 'password',
    jump: 'bastion.example.org',
    channel_transport: 'unix',
    warnings: [],
    readonly: true,
    has_secret: true
  }
];

export const PROFILES: IProfile[] = [
  {
    name: 'torch',
    server: 'gpu-box',
    python: '/opt/conda/envs/torch/bin/python',
    kernelspec: null,
    cwd: null,
    env: {},
    idle_timeout: 0,
    display_name: 'Python 3.11 · torch — gpu-box',
    readonly: false,
    kernel_name: 'remote-torch'
  },
  {
    name: 'base',
    server: 'gpu-box',
    python: '/usr/bin/python3',
    kernelspec: null,
    cwd: '/data',
    env: {},
    idle_timeout: 3600,
    display_name: null,
    readonly: false,
    kernel_name: 'remote-base'
  }
];

export const KEYS: IHostKey[] = [
  {
    host_id: '[127.0.0.1]:2222',
    key_type: 'ssh-ed25519',
    fingerprint: 'SHA256:abc',
    added: '2026-01-01T00:00:00+00:00',
    source: 'jupyter-remote'
  }
];

/** A kernel session of profile torch on gpu-box. */
export function session(id: string, state: ISession['state'], extra: Partial<ISession> = {}): ISession {
  return {
    id,
    kind: 'kernel',
    kernel_id: id,
    server: 'gpu-box',
    profile: 'torch',
    python: '/opt/conda/envs/torch/bin/python',
    state,
    reason: '',
    started: 1000,
    reconnects: 0,
    local_ports: [],
    ...extra
  };
}

/** A fake websocket the test drives. */
export class FakeSocket implements IWebSocketLike {
  constructor(readonly url: string) {}
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.({});
  }
  send(message: unknown): void {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  drop(): void {
    this.onerror?.({});
    this.onclose?.({});
  }
}

/**
 * REST calls of the catalog over a little store of servers and profiles
 * (what is added is listed, what is removed is not).
 */
export function fakeCatalogAPI(
  overrides: Partial<CatalogModel.IAPI> = {}
): jest.Mocked<CatalogModel.IAPI> {
  let servers = [...SERVERS];
  let profiles = [...PROFILES];
  return {
    listServers: jest.fn(() => Promise.resolve([...servers])),
    addServer: jest.fn(input => {
      // like the server: secrets are kept aside, the answer only says there is one
      const { password, passphrase, ...fields } = input;
      const server = { ...SERVERS[0], ...fields, has_secret: !!(password || passphrase) } as IServer;
      servers.push(server);
      return Promise.resolve(server);
    }),
    updateServer: jest.fn((name, input) => {
      const server = { ...(servers.find(s => s.name === name) ?? SERVERS[0]), ...input, name } as IServer;
      servers = servers.map(s => (s.name === name ? server : s));
      return Promise.resolve(server);
    }),
    removeServer: jest.fn(name => {
      servers = servers.filter(s => s.name !== name);
      return Promise.resolve();
    }),
    listProfiles: jest.fn(() => Promise.resolve([...profiles])),
    addProfile: jest.fn(input => {
      const profile = { ...PROFILES[0], ...input, kernel_name: `remote-${input.name}` } as IProfile;
      profiles.push(profile);
      return Promise.resolve(profile);
    }),
    removeProfile: jest.fn(name => {
      profiles = profiles.filter(p => p.name !== name);
      return Promise.resolve();
    }),
    listHostKeys: jest.fn(() => Promise.resolve(KEYS)),
    trustHostKey: jest.fn((server: string, fingerprint: string) =>
      Promise.resolve({ ...KEYS[0], host_id: server, fingerprint })
    ),
    removeHostKey: jest.fn(() => Promise.resolve(1)),
    listJupyterKernelspecs: jest.fn(() => Promise.resolve([])),
    ...overrides
  } as jest.Mocked<CatalogModel.IAPI>;
}

export function fakeSessionsAPI(
  overrides: Partial<SessionsModel.IAPI> = {}
): jest.Mocked<SessionsModel.IAPI> {
  return {
    listSessions: jest.fn(() => Promise.resolve([] as ISession[])),
    stopSession: jest.fn(() => Promise.resolve()),
    retrySession: jest.fn((id: string) => Promise.resolve(session(id, 'reconnecting'))),
    listRemoteKernels: jest.fn(() =>
      Promise.resolve([{ kernel_id: 'old1', state: 'running', profile: 'torch' }])
    ),
    stopRemoteKernel: jest.fn(() => Promise.resolve()),
    attachRemoteKernel: jest.fn((_s: string, id: string) => Promise.resolve({ id })),
    openForward: jest.fn((input: { server: string; remote_port: number }) =>
      Promise.resolve({
        ...session('f1', 'running', { kind: 'forward', server: input.server, profile: '' }),
        remote_port: input.remote_port,
        local_port: 40000,
        url: '/remote/forward/f1/'
      })
    ),
    ...overrides
  } as jest.Mocked<SessionsModel.IAPI>;
}

/** The three models of the sidebar, with fake REST calls, a fixed clock, no websocket. */
export interface IModels {
  catalog: CatalogModel;
  sessions: SessionsModel;
  sidebar: SidebarModel;
  catalogAPI: jest.Mocked<CatalogModel.IAPI>;
  sessionsAPI: jest.Mocked<SessionsModel.IAPI>;
  /** What the sidebar asked to confirm; `answer` says what the user says. */
  questions: IConfirmation[];
  answer: { accept: boolean };
  opened: {
    wizards: string[];
    notebooks: string[];
    kernels: string[];
    tabs: string[];
    focused: string[];
    /** Profiles opened in the wizard to edit them. */
    edited: string[];
    /** Kernelspecs whose failed start was retried. */
    retried: string[];
    /** Kernels stopped from a card (JupyterLab's lists refreshed). */
    stopped: string[];
  };
}

/**
 * Models to render or drive. With `load`, the catalog has listed SERVERS,
 * PROFILES and KEYS (so call it with await).
 */
export async function makeModels(
  options: {
    /** List the catalog first (default); false: not even once. */
    load?: boolean;
    /** The fixed clock, epoch ms. */
    now?: number;
    catalogAPI?: Partial<CatalogModel.IAPI>;
    sessionsAPI?: Partial<SessionsModel.IAPI>;
    /** JupyterLab's kernels (activity). */
    kernels?: IRunningKernels;
    /** Whether the events websocket is open (a fake one); else there is none. */
    live?: boolean;
  } = {}
): Promise<IModels> {
  const catalogAPI = fakeCatalogAPI(options.catalogAPI);
  const sessionsAPI = fakeSessionsAPI(options.sessionsAPI);
  const catalog = new CatalogModel({ api: catalogAPI });
  const now = options.now ?? 2000 * 1000;
  const sockets: FakeSocket[] = [];
  const sessions = new SessionsModel({
    api: sessionsAPI,
    createSocket: options.live
      ? url => {
          const socket = new FakeSocket(url);
          sockets.push(socket);
          return socket;
        }
      : null,
    eventsURL: () => 'ws://test/remote/events',
    kernels: options.kernels,
    now: () => now
  });
  if (options.live) {
    sessions.connectEvents();
    sockets[0].open();
  }
  const questions: IConfirmation[] = [];
  const answer = { accept: true };
  const opened = {
    wizards: [] as string[],
    notebooks: [] as string[],
    kernels: [] as string[],
    tabs: [] as string[],
    focused: [] as string[],
    edited: [] as string[],
    retried: [] as string[],
    stopped: [] as string[]
  };
  const sidebar = new SidebarModel({
    catalog,
    sessions,
    confirm: question => {
      questions.push(question);
      return Promise.resolve(answer.accept);
    },
    openWizard: server => opened.wizards.push(server),
    openEditWizard: profile => opened.edited.push(profile.name),
    retryStart: kernelName => opened.retried.push(kernelName),
    kernelStopped: kernelId => opened.stopped.push(kernelId),
    openNotebook: kernelName => opened.notebooks.push(kernelName),
    openKernel: (kernelId, server, kernel) => opened.kernels.push(`${kernelId} on ${server} in ${kernel.cwd ?? '?'}`),
    openForwardTab: s => opened.tabs.push(s.url ?? ''),
    focusButton: label => opened.focused.push(label),
    now: () => now
  });
  if (options.load !== false) {
    await catalog.refresh();
  }
  return { catalog, sessions, sidebar, catalogAPI, sessionsAPI, questions, answer, opened };
}

/** Dispose the models made by makeModels. */
export function disposeModels(models: IModels): void {
  models.sidebar.dispose();
  models.sessions.dispose();
  models.catalog.dispose();
}
