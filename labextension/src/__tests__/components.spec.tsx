/**
 * The pure components, rendered to static markup from models in a known
 * state: what they say, their accessible names, and that states are words
 * (not colour alone). The sidebar's components read real models (fake REST
 * calls, no websocket, a fixed clock); the wizard's steps read a stub of the
 * wizard model's parts they use.
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { Signal } from '@lumino/signaling';

import { RemoteAPIError } from '../api';
import {
  authLabel,
  ConnectStep,
  EmptyState,
  EnvironmentStep,
  ErrorBox,
  formatAddress,
  formatDuration,
  formatElapsed,
  formField,
  ForwardForm,
  initialValues,
  Loading,
  RemoteKernels,
  RemoteView,
  ReviewStep,
  SecurityDrawer,
  ServerForm,
  ServerList,
  SessionCard,
  StateBadge,
  stateLabel,
  toServerInput,
  validateServerForm,
  WizardView
} from '../components';
import { IRunningKernels } from '../sessions/model';
import { IGpu, IHostKey, IProfile, IRemoteKernel, IServer, ISession, ITestResult } from '../tokens';
import {
  groupEnvironments,
  IConnectState,
  IEnvironmentState,
  IReviewState,
  pinnedGpus,
  WizardModel
} from '../wizard';
import { disposeModels, IModels, makeModels } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

const KEY_SERVER: IServer = {
  name: 'gpu-box',
  host: 'gpu.example.org',
  port: 2222,
  user: 'ada',
  identity: '~/.ssh/id_ed25519',
  auth: 'key',
  jump: null,
  channel_transport: 'unix',
  warnings: [],
  readonly: false,
  has_secret: false
};

const ADMIN_SERVER: IServer = {
  name: 'cluster',
  host: 'login.example.org',
  port: null,
  user: null,
  identity: null,
  auth: 'password',
  jump: 'bastion.example.org:2200',
  channel_transport: 'unix',
  warnings: [],
  readonly: true,
  has_secret: false
};

const PROFILE: IProfile = {
  name: 'torch',
  server: 'gpu-box',
  python: '/opt/conda/envs/torch/bin/python',
  kernelspec: null,
  cwd: '/data',
  env: {},
  idle_timeout: 3600,
  display_name: 'Python 3.11 · torch — gpu-box',
  readonly: false,
  kernel_name: 'remote-torch'
};

function session(state: ISession['state'], extra: Partial<ISession> = {}): ISession {
  return {
    id: 'k1',
    kind: 'kernel',
    kernel_id: 'k1',
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

const noop = (): void => undefined;
const asyncNoop = (): Promise<never> => new Promise<never>(() => undefined);

function render(element: React.ReactElement): string {
  return renderToStaticMarkup(element);
}

const made: IModels[] = [];

/**
 * The sidebar's models, listing these servers, profiles and keys, with these
 * sessions (said hello), at a fixed time (epoch ms).
 */
async function models(
  options: {
    servers?: IServer[];
    profiles?: IProfile[];
    keys?: IHostKey[];
    sessions?: ISession[];
    now?: number;
    live?: boolean;
    kernels?: IRunningKernels;
  } = {}
): Promise<IModels> {
  const m = await makeModels({
    now: options.now,
    live: options.live,
    kernels: options.kernels,
    catalogAPI: {
      listServers: jest.fn(() => Promise.resolve(options.servers ?? [KEY_SERVER, ADMIN_SERVER])),
      listProfiles: jest.fn(() => Promise.resolve(options.profiles ?? [PROFILE])),
      listHostKeys: jest.fn(() => Promise.resolve(options.keys ?? []))
    }
  });
  if (options.sessions) {
    m.sessions.handleEvent({ type: 'hello', sessions: options.sessions });
  }
  made.push(m);
  return m;
}

afterEach(() => {
  while (made.length) {
    disposeModels(made.pop()!);
  }
});

/** A card rendered from the models. */
function card(m: IModels, id = 'k1'): string {
  const s = m.sessions.sessions.find(x => x.id === id)!;
  return render(<SessionCard session={s} sessions={m.sessions} sidebar={m.sidebar} />);
}

describe('format helpers', () => {
  it('formats addresses, auth and durations', () => {
    expect(formatAddress(KEY_SERVER)).toBe('ada@gpu.example.org:2222');
    expect(formatAddress(ADMIN_SERVER)).toBe('login.example.org');
    expect(authLabel('agent')).toBe('SSH agent');
    expect(authLabel('gssapi')).toBe('gssapi');
    expect(formatDuration(900)).toBe('15m'); // one form everywhere (duration.spec.ts)
    expect(formatElapsed(5)).toBe('5s');
    expect(formatElapsed(125)).toBe('2m5s');
    expect(formatElapsed(3 * 3600 + 60)).toBe('3h1m');
    expect(formatElapsed(2 * 86400 + 3600)).toBe('2d1h');
  });
});

describe('ServerList', () => {
  it('lists servers with profiles and labelled actions; admin servers are read-only', async () => {
    const m = await models({ servers: [KEY_SERVER, ADMIN_SERVER], profiles: [PROFILE] });
    const html = render(<ServerList catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toMatch(/^<ul [^>]*aria-label="Saved servers"/);
    expect(html).toContain('ada@gpu.example.org:2222');
    expect(html).toContain('bastion.example.org:2200');
    expect(html).toContain('aria-label="Profiles of gpu-box"');
    expect(html).toContain('remote-torch');
    expect(html).toContain('aria-label="Open a notebook on profile torch"');
    expect(html).toContain('aria-label="Edit server gpu-box"');
    expect(html).toContain('aria-label="Remove server gpu-box"');
    // the admin server can be connected to, not edited or removed
    expect(html).toContain('aria-label="Connect to cluster and add a profile"');
    expect(html).not.toContain('aria-label="Edit server cluster"');
    expect(html).not.toContain('aria-label="Remove server cluster"');
    expect(html.match(/read-only/g)).toHaveLength(1);
    expect(html).toContain('(no password saved)');
    expect(html).toContain('No profile yet');
  });

  it('a removal in flight says so', async () => {
    const m = await models();
    m.catalogAPI.removeProfile.mockImplementationOnce(asyncNoop);
    void m.catalog.removeProfile('torch');
    const html = render(<ServerList catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toMatch(/aria-label="Remove profile torch"[^>]*disabled=""[^>]*>Removing…/);
  });
});

describe('EmptyState, ErrorBox, Loading', () => {
  it('says what to do first', () => {
    const html = render(<EmptyState onAddServer={noop} />);
    expect(html).toContain('No saved servers yet.');
    expect(html).toContain('>Add a server</button>');
    expect(html).toContain('<code>jupyter remote server add NAME --host HOST</code>');
  });

  it('shows message, hint, reason and a labelled Retry', () => {
    const html = render(
      <ErrorBox
        error={{ message: 'Connection refused', reason: 'unreachable', hint: 'Is sshd running?' }}
        onRetry={noop}
        retryLabel="Retry loading servers"
      />
    );
    expect(html).toContain('role="alert"');
    expect(html).toContain('Error:');
    expect(html).toContain('Connection refused');
    expect(html).toContain('What to do:</strong> Is sshd running?');
    expect(html).toContain('<code>unreachable</code>');
    expect(html).toMatch(/<button[^>]*aria-label="Retry loading servers"[^>]*>Retry<\/button>/);
    expect(render(<ErrorBox error={{ message: 'm', reason: '', hint: '' }} title="Stop" />)).toContain(
      'Stop failed:'
    );
  });

  it('calls onRetry from the button', () => {
    const onRetry = jest.fn();
    const element = ErrorBox({ error: { message: 'm', reason: '', hint: '' }, onRetry });
    const find = (node: React.ReactNode): React.ReactElement | undefined => {
      for (const child of React.Children.toArray(node)) {
        if (!React.isValidElement(child)) {
          continue;
        }
        if (child.type === 'button') {
          return child;
        }
        const inner = find((child.props as { children?: React.ReactNode }).children);
        if (inner) {
          return inner;
        }
      }
      return undefined;
    };
    const button = find(element.props.children);
    (button!.props as { onClick: () => void }).onClick();
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  it('is a polite status with text', () => {
    const html = render(<Loading label="Looking…" />);
    expect(html).toContain('role="status"');
    expect(html).toContain('Looking…');
  });
});

describe('StateBadge and SessionCard', () => {
  it('every state has words and a glyph, not colour alone', () => {
    for (const [state, label] of [
      ['connecting', 'Connecting'],
      ['running', 'Running'],
      ['reconnecting', 'Reconnecting'],
      ['degraded', 'Degraded'],
      ['disconnected', 'Disconnected'],
      ['stopped', 'Stopped']
    ]) {
      const html = render(<StateBadge state={state} />);
      expect(html).toContain(`>${label}</span>`);
      expect(html).toContain(`jp-remote-StateBadge-${state}`);
      expect(stateLabel(state)).toBe(label);
    }
    expect(render(<StateBadge state="weird" />)).toContain('>weird</span>');
  });

  it('a running card: server, python, uptime, activity, Stop; no reason, no Retry', async () => {
    const running = [{ id: 'k1', execution_state: 'idle', last_activity: new Date(1120 * 1000).toISOString() }];
    const m = await models({
      sessions: [session('running')],
      now: 1125 * 1000,
      kernels: { running: () => running[Symbol.iterator](), runningChanged: new Signal<object, void>({}) }
    });
    const html = card(m);
    expect(html).toContain('Session </span>torch');
    expect(html).toContain('>Running</span>');
    expect(html).toContain('gpu-box');
    expect(html).toContain('Python 3.11 · torch — gpu-box'); // the environment, by name
    expect(html).toContain('2m5s');
    expect(html).toContain('idle, just now');
    expect(html).toContain('aria-label="Stop session torch"');
    expect(html).not.toContain('Retry');
    expect(html).not.toContain('Why:');
    expect(html).not.toContain('jp-remote-Notice');
  });

  it('a card shows the session warnings (TCP channels)', async () => {
    const m = await models({
      sessions: [session('running', { channel_transport: 'tcp', warnings: ['TCP port in use'] })]
    });
    const html = card(m);
    expect(html).toContain('class="jp-remote-Warning" role="note"');
    expect(html).toContain('TCP port in use');
  });

  it('a reconnecting card says why', async () => {
    const m = await models({
      profiles: [], // no display name: the interpreter's path
      sessions: [
        session('reconnecting', {
          reason: 'the SSH connection was lost; the kernel keeps running remotely',
          reconnects: 2
        })
      ]
    });
    const html = card(m);
    expect(html).toContain('>Reconnecting</span>');
    expect(html).toContain('/opt/conda/envs/torch/bin/python');
    expect(html).toContain('Why:</strong> the SSH connection was lost');
    expect(html).toContain('Reconnects');
  });

  it('a disconnected card offers Retry and Stop', async () => {
    const m = await models({ sessions: [session('disconnected', { reason: 'WARNING: the host key has CHANGED' })] });
    m.sessionsAPI.retrySession.mockImplementationOnce(asyncNoop);
    void m.sessions.retrySession('k1');
    const html = card(m);
    expect(html).toContain('>Disconnected</span>');
    expect(html).toContain('aria-label="Retry session torch"');
    expect(html).toContain('Retrying…');
    expect(html).toContain('aria-label="Stop session torch"');
  });

  it('a failed Stop shows its error on the card', async () => {
    const m = await models({ sessions: [session('running')] });
    m.sessionsAPI.stopSession.mockRejectedValueOnce(
      new RemoteAPIError({ status: 502, message: 'The server is unreachable', hint: 'Retry later' })
    );
    await m.sessions.stopSession('k1');
    const html = card(m);
    expect(html).toContain('role="alert"');
    expect(html).toContain('The server is unreachable');
  });

  it('a connecting card shows the start-up stage', async () => {
    const m = await models({ sessions: [session('connecting', { profile: '' })] });
    m.sessions.handleEvent({ type: 'progress', kernel_id: 'k1', server: 'gpu-box', stage: 'forwarding', message: 'ipc channels' });
    const html = card(m);
    expect(html).toContain('Kernel k1');
    expect(html).toContain('role="status"');
    expect(html).toContain('forwarding: ipc channels');
    expect(html).toMatch(/<progress[^>]*max="4"[^>]*value="3"/);
  });

  it('attaching to a kernel left running shows as a stage, where starting one would', async () => {
    const m = await models({ sessions: [] });
    m.sessions.handleEvent({
      type: 'progress',
      kernel_id: 'k1',
      server: 'gpu-box',
      stage: 'attaching',
      message: 'to the running kernel, pid 4242'
    });
    const html = card(m);
    expect(html).toContain('>Connecting</span>');
    expect(html).toContain('attaching: to the running kernel, pid 4242');
    expect(html).toMatch(/<progress[^>]*max="4"[^>]*value="2"/);
  });

  it('a notice shows on the card, with when, and can be dismissed', async () => {
    const m = await models({ sessions: [session('running')], now: 2000 * 1000 });
    m.sessions.handleEvent({
      type: 'notice',
      kernel_id: 'k1',
      server: 'gpu-box',
      message: '120 output messages were dropped while the link was down',
      time: 1700
    });
    const html = card(m);
    expect(html).toMatch(/class="jp-remote-Notice" role="note">.*120 output messages were dropped/);
    expect(html).toContain('(5m ago)');
    expect(html).toContain('aria-label="Dismiss the notices of session torch"');
    m.sessions.dismissNotices('k1');
    expect(card(m)).not.toContain('jp-remote-Notice');
  });

  it("a notice's words are text, never markup", async () => {
    const m = await models({ sessions: [session('running')] });
    m.sessions.handleEvent({
      type: 'notice',
      kernel_id: 'k1',
      server: 'gpu-box',
      message: '<img src=x onerror="alert(1)"> dropped'
    });
    const html = card(m);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; dropped');
    expect(html).not.toContain('<img');
  });

  it('a stopped card can be dismissed, not stopped', async () => {
    const m = await models({ sessions: [session('stopped')], now: 0 });
    const html = card(m);
    expect(html).toContain('>Stopped</span>');
    expect(html).toContain('aria-label="Dismiss session torch"');
    expect(html).not.toContain('Stop session');
    expect(html).not.toContain('Uptime');
  });

  it('a forward card says what goes where and offers Open', async () => {
    const m = await models({
      now: 0,
      sessions: [
        {
          id: 'f1',
          kind: 'forward',
          server: 'gpu-box',
          profile: '',
          python: null,
          remote_port: 6006,
          local_port: 41234,
          url: '/remote/forward/f1/',
          state: 'running',
          reason: '',
          started: 0,
          reconnects: 0
        }
      ]
    });
    const html = card(m, 'f1');
    expect(html).toContain('Port 6006 on gpu-box');
    expect(html).toContain('localhost:41234 → gpu-box:6006');
    // the bare tunnel is said, never offered as a link (its pages would share cookies)
    expect(html).toContain('title="A plain tunnel, like ssh -L.');
    expect(html).not.toContain('href="http://localhost:41234');
    expect(html).not.toContain('href="http://127.0.0.1:41234');
    expect(html).toContain('aria-label="Open Port 6006 on gpu-box in a new tab"');
    expect(html).toContain('aria-label="Stop session Port 6006 on gpu-box"');
  });
});

describe('SecurityDrawer', () => {
  const keys: IHostKey[] = [
    {
      host_id: '[127.0.0.1]:2222',
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:abc',
      added: '2026-01-02T03:04:05+00:00',
      source: 'jupyter-remote'
    },
    { host_id: 'github.com', key_type: 'ssh-rsa', fingerprint: 'SHA256:gh', source: 'known_hosts' }
  ];

  async function drawer(rows: IHostKey[], open: boolean): Promise<string> {
    const m = await models({ keys: rows });
    if (open) {
      m.sidebar.setSecurityOpen(true);
    }
    return render(<SecurityDrawer catalog={m.catalog} sidebar={m.sidebar} />);
  }

  it('is a closed toggle with the count', async () => {
    const html = await drawer(keys, false);
    expect(html).toContain('aria-expanded="false"');
    expect(html).toContain('Security: trusted host keys (2)');
    expect(html).not.toContain('<table');
  });

  it('lists keys; only our own can be removed here', async () => {
    const html = await drawer(keys, true);
    expect(html).toContain('aria-expanded="true"');
    expect(html).toContain('aria-label="Trusted host keys"');
    expect(html).toContain('SHA256:abc');
    expect(html).toContain('ssh-ed25519');
    expect(html).toContain('aria-label="Remove trusted key of [127.0.0.1]:2222"');
    expect(html).not.toContain('aria-label="Remove trusted key of github.com"');
    expect(html).toContain('from ~/.ssh/known_hosts');
  });

  it('shows where known_hosts entries come from, their markers and skipped lines', async () => {
    const rows: IHostKey[] = [
      ...keys,
      {
        host_id: '(hashed)',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:hashed',
        source: 'known_hosts',
        file: '/etc/ssh/ssh_known_hosts',
        line: 4,
        marker: null,
        hashed: true
      },
      {
        host_id: '*',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:bad',
        source: 'known_hosts',
        file: '/home/ada/.ssh/known_hosts',
        line: 2,
        marker: 'revoked',
        hashed: false
      },
      {
        host_id: '*.example.org',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:ca',
        source: 'known_hosts',
        file: '/home/ada/.ssh/known_hosts',
        line: 3,
        marker: 'cert-authority',
        hashed: false
      },
      {
        host_id: 'box',
        key_type: '(skipped)',
        fingerprint: '',
        source: 'warning',
        file: '/home/ada/.ssh/known_hosts',
        line: 7,
        marker: null,
        hashed: false,
        warning: '/home/ada/.ssh/known_hosts:7: no key on the line'
      }
    ];
    const html = await drawer(rows, true);
    expect(html).toContain('Security: trusted host keys (5)');
    expect(html).toContain('from /etc/ssh/ssh_known_hosts line 4, hashed host name');
    expect(html).toContain('revoked: never trusted');
    expect(html).toContain('certificate authority');
    expect(html).toContain('Skipped known_hosts lines (1)');
    expect(html).toContain('/home/ada/.ssh/known_hosts:7: no key on the line');
    expect(html).not.toContain('aria-label="Remove trusted key of *"');
  });

  it('says what to do when empty', async () => {
    const html = await drawer([], true);
    expect(html).toContain('No trusted host keys yet.');
  });
});

describe('ServerForm', () => {
  it('maps the server\'s field names to form fields', () => {
    expect(formField('jump host')).toBe('jump');
    expect(formField('jump')).toBe('jump');
    expect(formField('identity')).toBe('identity');
    expect(formField('Port')).toBe('port');
    expect(formField('weird')).toBeUndefined();
    expect(formField(undefined)).toBeUndefined();
  });

  it('validates locally and builds the REST body', () => {
    const values = { ...initialValues(null), name: 'bad name', port: '99999', identity: 'rel/key' };
    expect(Object.keys(validateServerForm(values)).sort()).toEqual([
      'host',
      'identity',
      'name',
      'port'
    ]);
    const ok = { ...initialValues(KEY_SERVER), passphrase: 'pp', jump: '' };
    expect(validateServerForm(ok)).toEqual({});
    expect(toServerInput(ok, 'edit')).toEqual({
      host: 'gpu.example.org',
      port: 2222,
      user: 'ada',
      auth: 'key',
      identity: '~/.ssh/id_ed25519',
      jump: null,
      channel_transport: 'unix',
      passphrase: 'pp'
    });
    expect(toServerInput({ ...ok, auth: 'password', password: 'pw' }, 'add')).toMatchObject({
      name: 'gpu-box',
      identity: null,
      password: 'pw'
    });
  });

  it("shows the server's 400 message at its field", () => {
    const html = render(
      <ServerForm
        mode="add"
        saving={false}
        error={{
          message: "identity '/nope' does not exist or is not a file.",
          reason: 'invalid',
          hint: 'Create a key with ssh-keygen.',
          field: 'identity'
        }}
        onSubmit={noop}
        onCancel={noop}
      />
    );
    expect(html).toContain('aria-label="Add a server"');
    expect(html).toMatch(/<input[^>]*name="identity"[^>]*aria-invalid="true"/);
    expect(html).toContain("identity &#x27;/nope&#x27; does not exist or is not a file. Create a key");
    expect(html).not.toContain('role="alert"'); // not repeated as a general error
    expect(html).toContain('Save and connect');
  });

  it('shows other errors above the form; edit mode cannot rename', () => {
    const html = render(
      <ServerForm
        mode="edit"
        server={KEY_SERVER}
        saving={true}
        error={{ message: 'Server busy', reason: 'x', hint: '' }}
        onSubmit={noop}
        onCancel={noop}
      />
    );
    expect(html).toContain('aria-label="Edit server gpu-box"');
    expect(html).toContain('role="alert"');
    expect(html).toMatch(/<input[^>]*name="name"[^>]*disabled=""/);
    expect(html).toContain('Saving…');
  });

  it('offers TCP kernel channels only as a warned, explicit choice', async () => {
    const plain = render(
      <ServerForm mode="edit" server={KEY_SERVER} saving={false} error={null} onSubmit={noop} onCancel={noop} />
    );
    expect(plain).toMatch(/<input(?=[^>]*value="unix")(?=[^>]*checked="")[^>]*>/);
    expect(plain).not.toContain('other users of the host can see');
    const tcpServer = {
      ...KEY_SERVER,
      channel_transport: 'tcp' as const,
      warnings: ['Kernel channels use a TCP port on the remote.']
    };
    const chosen = render(
      <ServerForm mode="edit" server={tcpServer} saving={false} error={null} onSubmit={noop} onCancel={noop} />
    );
    expect(chosen).toMatch(/<input(?=[^>]*value="tcp")(?=[^>]*checked="")[^>]*>/);
    expect(chosen).toContain('other users of the host can see');
    expect(toServerInput(initialValues(tcpServer), 'edit').channel_transport).toBe('tcp');
    const m = await models({ servers: [tcpServer], profiles: [] });
    const html = render(<ServerList catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toContain('class="jp-remote-Warning" role="note"');
    expect(html).toContain('Kernel channels use a TCP port on the remote.');
  });
});

/** The Connect step fed by a stub of the model's connect part. */
function Connect(props: { connect: IConnectState; address: string; now: number; onOpenSecurity?: () => void }) {
  const model = { connect: props.connect, runTest: asyncNoop, trust: asyncNoop, cancelTrust: noop };
  return <ConnectStep model={model} address={props.address} now={props.now} onOpenSecurity={props.onOpenSecurity} />;
}

/** The Environment step fed by a stub of the model's environment part. */
function Environment(props: { server: string; environment: IEnvironmentState; groups: ReturnType<typeof groupEnvironments> }) {
  const model = {
    server: props.server,
    environment: props.environment,
    groups: props.groups,
    loadEnvironments: asyncNoop,
    select: noop,
    setCustomPath: noop,
    setUseCustom: noop,
    installIpykernel: asyncNoop,
    openCreate: noop,
    setCreate: noop,
    closeCreate: noop,
    createEnvironment: asyncNoop
  };
  return <EnvironmentStep model={model} />;
}

/** The Review step fed by a stub of the model's review part. */
export function Review(props: {
  server: string;
  environment: string;
  review: IReviewState;
  needsIpykernel: boolean;
  needsCwd?: boolean;
  needsNewEnvironment?: boolean;
  editing?: IProfile | null;
  gpus?: IGpu[];
}) {
  const model = {
    server: props.server,
    review: props.review,
    needsIpykernel: props.needsIpykernel,
    needsCwd: props.needsCwd ?? false,
    needsNewEnvironment: props.needsNewEnvironment ?? false,
    editing: props.editing ?? null,
    gpus: props.gpus ?? [],
    pinnedGpus: pinnedGpus(props.review.envVars),
    setDisplayName: noop,
    toggleGpu: noop,
    createCwdAndSave: asyncNoop,
    openCreate: noop,
    chosenPython: props.environment,
    selectedEnvironment: null,
    setName: noop,
    setCwd: noop,
    setIdleTimeout: noop,
    addEnvVar: noop,
    setEnvVar: noop,
    removeEnvVar: noop,
    save: asyncNoop,
    installAndSave: asyncNoop
  };
  return <ReviewStep model={model} onOpenNotebook={noop} />;
}

const CONNECT_IDLE: IConnectState = {
  status: 'testing',
  startedAt: 1000,
  result: null,
  unknown: null,
  changed: null,
  error: null
};

describe('ConnectStep', () => {
  const props = { address: 'ada@h:22', now: 4000 };

  it('shows progress while testing', () => {
    const html = render(<Connect {...props} connect={CONNECT_IDLE} />);
    expect(html).toContain('Connecting to ada@h:22… 3 s');
    expect(html).toContain('role="status"');
  });

  it('an unknown key: type, SHA256 fingerprint, Trust and Cancel', () => {
    const html = render(
      <Connect
        {...props}
        connect={{
          ...CONNECT_IDLE,
          status: 'hostkey_unknown',
          unknown: {
            reason: 'hostkey_unknown',
            host_id: '[h]:22',
            key_type: 'ssh-ed25519',
            fingerprint: 'SHA256:abc',
            message: '',
            hint: ''
          }
        }}
      />
    );
    expect(html).toContain('Unknown host key');
    expect(html).toContain('ssh-ed25519');
    expect(html).toContain('aria-label="SHA256 fingerprint">SHA256:abc');
    expect(html).toContain('>Trust</button>');
    expect(html).toContain('>Cancel</button>');
    expect(html).toContain('ssh_host_ed25519_key.pub');
  });

  it('a changed key: a WARNING in words, how to remove the old entry, nothing to accept', () => {
    const html = render(
      <Connect
        {...props}
        onOpenSecurity={noop}
        connect={{
          ...CONNECT_IDLE,
          status: 'hostkey_changed',
          changed: {
            reason: 'hostkey_changed',
            host_id: '[h]:22',
            key_type: 'ssh-ed25519',
            fingerprint: 'SHA256:new',
            known_fingerprints: ['SHA256:old'],
            message: '',
            hint: ''
          }
        }}
      />
    );
    expect(html).toContain('role="alert"');
    expect(html).toContain('WARNING: the host key has CHANGED');
    expect(html).toContain('man-in-the-middle');
    expect(html).toContain('SHA256:new');
    expect(html).toContain('SHA256:old');
    expect(html).toContain('jupyter remote hostkey remove [h]:22');
    expect(html).toContain('Open the Security drawer');
    expect(html).not.toMatch(/>(Trust|Accept)[^<]*<\/button>/);
  });

  it('connected: fingerprint, login, round trip, OS, python', () => {
    const html = render(
      <Connect
        {...props}
        connect={{
          ...CONNECT_IDLE,
          status: 'ok',
          result: {
            server: 'box',
            endpoint: 'ada@[h]:22',
            reachable: true,
            auth: 'ok',
            auth_method: 'key',
            host_key: { type: 'ssh-ed25519', fingerprint: 'SHA256:abc', source: 'jupyter-remote' },
            connect_ms: 41.2,
            rtt_ms: 1.4,
            os: 'Debian GNU/Linux 12',
            python: { path: '/usr/bin/python3', version: '3.11.2' }
          }
        }}
      />
    );
    expect(html).toContain('Connected');
    expect(html).toContain('SHA256:abc');
    expect(html).toContain('SSH key');
    expect(html).toContain('41 ms');
    expect(html).toContain('Debian GNU/Linux 12');
    expect(html).toContain('/usr/bin/python3');
  });

  it('errors have message, hint and Retry', () => {
    const html = render(
      <Connect
        {...props}
        connect={{
          ...CONNECT_IDLE,
          status: 'error',
          error: { message: 'Connection refused', reason: 'unreachable', hint: 'Is sshd running?' }
        }}
      />
    );
    expect(html).toContain('Connecting to ada@h:22 failed:');
    expect(html).toContain('Is sshd running?');
    expect(html).toContain('aria-label="Retry the connection"');
  });
});

describe('EnvironmentStep', () => {
  const environments = [
    { python: '/usr/bin/python3', kind: 'system', name: 'system', version: '3.11.2', ipykernel: false, path: '/usr' },
    { python: '/e/torch/bin/python', kind: 'conda', name: 'torch', version: '3.11.9', ipykernel: true, path: '/e/torch' }
  ];
  const state: IEnvironmentState = {
    status: 'ok',
    environments,
    error: null,
    selected: 'python:/e/torch/bin/python',
    customPath: '',
    useCustom: false,
    install: { python: '/usr/bin/python3', lines: ['Collecting ipykernel'], status: 'running', error: null },
    create: null
  };

  it('groups by kind with version and ipykernel status; Install where missing; pip output', () => {
    const html = render(
      <Environment
        server="box"
        environment={state}
        groups={groupEnvironments(environments)}
      />
    );
    expect(html.indexOf('Conda environments')).toBeLessThan(html.indexOf('System Python'));
    expect(html).toContain('Python 3.11.9');
    expect(html).toContain('ipykernel installed');
    expect(html).toContain('ipykernel missing');
    expect(html).toContain('aria-label="Install ipykernel into /usr/bin/python3"');
    expect(html).not.toContain('aria-label="Install ipykernel into /e/torch/bin/python"');
    expect(html).toMatch(/<input type="radio"[^>]*checked=""[^>]*value="python:\/e\/torch\/bin\/python"/);
    expect(html).toContain('aria-label="Path of a Python interpreter on the server"');
    expect(html).toContain('role="log"');
    expect(html).toContain('Collecting ipykernel');
    expect(html).toContain('aria-label="Refresh environments (look on the server again)"');
  });

  it('says what to do when nothing was found', () => {
    const html = render(
      <Environment
        server="box"
        environment={{ ...state, environments: [], install: null, selected: null }}
        groups={[]}
      />
    );
    expect(html).toContain('No Python environment was found on box');
  });
});

describe('ReviewStep', () => {
  const review: IReviewState = {
    name: 'gpu',
    cwd: '',
    envVars: [{ key: 'A', value: '1' }],
    idleTimeout: 3600,
    status: 'idle',
    error: null,
    fieldErrors: { name: 'taken' },
    profile: null,
    displayName: '',
    standby: false
  };
  const reviewProps = { server: 'box', environment: '/usr/bin/python3', needsIpykernel: false };

  it('labels every field and shows field errors', () => {
    const html = render(<Review {...reviewProps} review={review} />);
    expect(html).toContain('>Profile name</label>');
    expect(html).toContain('remote-gpu');
    expect(html).toMatch(/id="jp-remote-review-name"[^>]*aria-invalid="true"/);
    expect(html).toContain('taken');
    expect(html).toContain('aria-label="Name of variable 1"');
    expect(html).toContain('>1h</option>');
  });

  it('ipykernel_missing offers install and start', () => {
    const html = render(
      <Review
        {...reviewProps}
        needsIpykernel={true}
        review={{
          ...review,
          status: 'error',
          error: { message: 'ipykernel is not installed', reason: 'ipykernel_missing', hint: 'Install it' }
        }}
      />
    );
    expect(html).toContain('Install ipykernel and start');
    expect(html).toContain('aria-label="Retry saving the profile"');
  });

  it('after Start: the kernel is named and a notebook can be opened', () => {
    const html = render(
      <Review
        {...reviewProps}
        review={{ ...review, status: 'saved', profile: { ...PROFILE, name: 'gpu', kernel_name: 'remote-gpu' } }}
      />
    );
    expect(html).toContain('Profile gpu saved.');
    expect(html).toContain('remote-gpu');
    expect(html).toContain('>Open notebook</button>');
  });
});

describe('WizardView', () => {
  const RESULT: ITestResult = {
    server: 'box',
    endpoint: 'ada@[h]:22',
    reachable: true,
    auth: 'ok',
    auth_method: 'key',
    host_key: { type: 'ssh-ed25519', fingerprint: 'SHA256:abc', source: 'jupyter-remote' },
    connect_ms: 41.2,
    rtt_ms: 1.4,
    os: 'Debian GNU/Linux 12',
    python: { path: '/usr/bin/python3', version: '3.11.2' }
  };

  it('shows the steps from its model, the current one marked', async () => {
    const model = new WizardModel({
      server: 'box',
      api: { testServer: () => Promise.resolve(RESULT), listEnvironments: asyncNoop }
    });
    await model.start();
    model.next(); // the environments are being listed
    const html = render(<WizardView model={model} address="ada@h:22" now={0} onClose={noop} onOpenNotebook={noop} />);
    expect(html).toContain('Connect to box');
    expect(html).toContain('aria-label="Steps"');
    expect(html).toMatch(/aria-current="step"[^>]*>.*Environment/);
    expect(html).toContain('(done)');
    expect(html).toContain('Step 2 of 3: Environment');
    expect(html).toContain('Looking for Python environments on box');
    expect(html).toMatch(/<button[^>]*disabled=""[^>]*>Next<\/button>/);
    expect(html).toContain('Choose an environment, or type an interpreter path.');
    model.dispose();
  });

  it('shows the connection test with its elapsed time', () => {
    const model = new WizardModel({ server: 'box', api: { testServer: asyncNoop }, now: () => 1000 });
    void model.start();
    const html = render(<WizardView model={model} address="ada@h:22" now={6000} onClose={noop} onOpenNotebook={noop} />);
    expect(html).toContain('Step 1 of 3: Connect');
    expect(html).toContain('Connecting to ada@h:22… 5 s');
    model.dispose();
  });
});

describe('RemoteView', () => {
  function view(m: IModels): string {
    return render(<RemoteView catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
  }

  it('shows the loading indicator before the first answer', async () => {
    const m = await makeModels({ load: false });
    made.push(m);
    const pending = m.catalog.refresh();
    const html = view(m);
    expect(html).toContain('Loading servers');
    expect(html).not.toContain('No saved servers yet');
    await pending;
  });

  it('empty: what to do first, for servers and sessions', async () => {
    const m = await models({ servers: [], profiles: [], sessions: [], live: true });
    const html = view(m);
    expect(html).toContain('No saved servers yet');
    expect(html).toContain('aria-label="Add server"');
    expect(html).toContain('No remote sessions.');
    expect(html).toContain('Add a server and connect to it first');
    expect(html).toContain('(live)');
  });

  it('shows the error and keeps the last servers', async () => {
    const m = await models({ servers: [KEY_SERVER] });
    m.catalogAPI.listServers.mockRejectedValueOnce(
      new RemoteAPIError({ status: 500, message: 'Boom', hint: 'Try again' })
    );
    await m.catalog.refresh();
    const html = view(m);
    expect(html).toContain('Boom');
    expect(html).toContain('gpu-box');
    expect(html).toContain('aria-label="Retry loading servers"');
  });

  it('shows the form instead of the list, sessions, the drawer and an action error', async () => {
    const m = await models({ servers: [KEY_SERVER] });
    m.sessionsAPI.listSessions.mockResolvedValue([session('running')]);
    m.sessions.connectEvents(); // no websocket here: down, polling
    await m.sessions.refresh();
    m.sidebar.openAddForm();
    m.catalogAPI.removeServer.mockRejectedValueOnce(new RemoteAPIError({ status: 409, message: 'nope' }));
    await m.catalog.removeServer('x');
    const html = view(m);
    expect(html).toContain('aria-label="Add a server"');
    expect(html).not.toContain('aria-label="Saved servers"');
    expect(html).not.toContain('aria-label="Add server"');
    expect(html).toContain('aria-label="Remote sessions"');
    expect(html).toContain('live updates unavailable, refreshing every 10 s');
    expect(html).toContain('Security: trusted host keys (0)');
    expect(html).toContain('Remove server x failed:');
    expect(html).toContain('aria-label="Retry: Remove server x"');
  });

  it("shows the sessions model's action error too", async () => {
    const m = await models();
    m.sessionsAPI.attachRemoteKernel.mockRejectedValueOnce(new RemoteAPIError({ status: 404, message: 'gone' }));
    await m.sessions.attachKernel('gpu-box', 'abcdef1234');
    const html = view(m);
    expect(html).toContain('Attach kernel abcdef12 failed:');
    expect(html).toContain('aria-label="Retry: Attach kernel abcdef12"');
  });
});

describe('server tools', () => {
  const KERNELS: IRemoteKernel[] = [
    { kernel_id: 'aaaaaaaa-1111', state: 'running', profile: 'torch', started: 1000 },
    { kernel_id: 'bbbbbbbb-2222', state: 'running', profile: 'torch', started: 1000 },
    { kernel_id: 'cccccccc-3333', state: 'dead', profile: 'torch', reason: 'killed by signal 9' }
  ];

  function kernelsTool(m: IModels): string {
    return render(<RemoteKernels server="gpu-box" sessions={m.sessions} sidebar={m.sidebar} />);
  }

  it('lists kernels on the server: Attach/Stop for the others, none for ours', async () => {
    const m = await models({ now: 1060 * 1000, sessions: [session('running', { id: 'bbbbbbbb-2222', kernel_id: 'bbbbbbbb-2222' })] });
    m.sessionsAPI.listRemoteKernels.mockResolvedValueOnce(KERNELS);
    await m.sessions.loadRemoteKernels('gpu-box');
    const html = kernelsTool(m);
    expect(html).toContain('aria-label="Kernels running on gpu-box"');
    expect(html).toContain('aria-label="Attach kernel aaaaaaaa and open a notebook on it"');
    expect(html).not.toContain('Attach kernel bbbbbbbb');
    expect(html).toContain('attached here');
    expect(html).not.toContain('Attach kernel cccccccc');
    expect(html).toContain('aria-label="Stop kernel cccccccc on gpu-box"');
    expect(html).toContain('killed by signal 9');
    expect(html).toContain('started 1m ago');
  });

  it('says so when there is none, and shows errors with Retry', async () => {
    const m = await models();
    m.sessionsAPI.listRemoteKernels.mockResolvedValueOnce([]);
    await m.sessions.loadRemoteKernels('gpu-box');
    expect(kernelsTool(m)).toContain('No kernel of yours runs on gpu-box.');
    m.sessionsAPI.listRemoteKernels.mockRejectedValueOnce(new RemoteAPIError({ status: 502, message: 'unreachable', hint: 'h' }));
    await m.sessions.loadRemoteKernels('gpu-box');
    expect(kernelsTool(m)).toContain('aria-label="Retry listing the kernels on gpu-box"');
  });

  it('the forward form is labelled and shows its error', async () => {
    const m = await models();
    const html = render(<ForwardForm server="gpu-box" sessions={m.sessions} />);
    expect(html).toContain('aria-label="Forward a port of gpu-box"');
    expect(html).toContain('>Remote port</label>');
    expect(html).toContain('>Local port (optional)</label>');
    expect(html).toContain('>Forward</button>');
    m.sessionsAPI.openForward.mockRejectedValueOnce(new RemoteAPIError({ status: 409, message: 'port in use' }));
    await m.sessions.openForward({ server: 'gpu-box', remote_port: 80 });
    expect(render(<ForwardForm server="gpu-box" sessions={m.sessions} />)).toContain('Forwarding the port failed:');
  });

  it('server tools fold out under a server', async () => {
    const m = await models({ servers: [KEY_SERVER] });
    m.sidebar.toggleTool('gpu-box', 'forward');
    const html = render(<ServerList catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toMatch(/aria-expanded="false"[^>]*>.*Kernels on the server/);
    expect(html).toMatch(/aria-expanded="true"[^>]*>.*Forward a port/);
    expect(html).toContain('aria-label="Forward a port of gpu-box"');
  });
});
