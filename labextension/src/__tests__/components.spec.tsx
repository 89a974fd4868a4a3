/**
 * The pure components, rendered to static markup: what they say, their
 * accessible names, and that states are words (not colour alone).
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import {
  authLabel,
  ConnectStep,
  ForwardForm,
  RemoteKernels,
  EmptyState,
  EnvironmentStep,
  ErrorBox,
  formatAddress,
  formatDuration,
  formField,
  initialValues,
  Loading,
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
import { IProfile, IServer, ISession } from '../tokens';
import { groupEnvironments, IConnectState, IEnvironmentState, IReviewState } from '../wizard';

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

function session(state: string, extra: Partial<ISession> = {}): ISession {
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

function render(element: React.ReactElement): string {
  return renderToStaticMarkup(element);
}

describe('format helpers', () => {
  it('formats addresses, auth and durations', () => {
    expect(formatAddress(KEY_SERVER)).toBe('ada@gpu.example.org:2222');
    expect(formatAddress(ADMIN_SERVER)).toBe('login.example.org');
    expect(authLabel('agent')).toBe('SSH agent');
    expect(authLabel('gssapi')).toBe('gssapi');
    expect(formatDuration(5)).toBe('5 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(3 * 3600 + 60)).toBe('3 h 01 min');
    expect(formatDuration(2 * 86400 + 3600)).toBe('2 d 1 h');
  });
});

describe('ServerList', () => {
  it('lists servers with profiles and labelled actions; admin servers are read-only', () => {
    const html = render(
      <ServerList
        servers={[KEY_SERVER, ADMIN_SERVER]}
        profiles={[PROFILE]}
        onConnect={noop}
        onEdit={noop}
        onRemove={noop}
        onOpenNotebook={noop}
        onRemoveProfile={noop}
      />
    );
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

  it('a running card: server, python, uptime, Stop; no reason, no Retry', () => {
    const html = render(
      <SessionCard
        session={session('running')}
        now={1125 * 1000}
        displayName="Python 3.11 · torch — gpu-box"
        activity={{ execution_state: 'idle', last_activity: new Date(1120 * 1000).toISOString() }}
        onStop={noop}
        onRetry={noop}
        onDismiss={noop}
      />
    );
    expect(html).toContain('Session </span>torch');
    expect(html).toContain('>Running</span>');
    expect(html).toContain('gpu-box');
    expect(html).toContain('Python 3.11 · torch — gpu-box'); // the environment, by name
    expect(html).toContain('2 min 05 s');
    expect(html).toContain('idle, just now');
    expect(html).toContain('aria-label="Stop session torch"');
    expect(html).not.toContain('Retry');
    expect(html).not.toContain('Why:');
  });

  it('a card shows the session warnings (TCP channels)', () => {
    const html = render(
      <SessionCard
        session={session('running', { channel_transport: 'tcp', warnings: ['TCP port in use'] })}
        now={1125 * 1000}
        onStop={noop}
        onRetry={noop}
        onDismiss={noop}
      />
    );
    expect(html).toContain('class="jp-remote-Warning" role="note"');
    expect(html).toContain('TCP port in use');
  });

  it('a reconnecting card says why', () => {
    const html = render(
      <SessionCard
        session={session('reconnecting', {
          reason: 'the SSH connection was lost; the kernel keeps running remotely',
          reconnects: 2
        })}
        now={2000 * 1000}
        onStop={noop}
      />
    );
    expect(html).toContain('>Reconnecting</span>');
    expect(html).toContain('/opt/conda/envs/torch/bin/python'); // no display name: the path
    expect(html).toContain('Why:</strong> the SSH connection was lost');
    expect(html).toContain('Reconnects');
  });

  it('a disconnected card offers Retry and Stop', () => {
    const html = render(
      <SessionCard
        session={session('disconnected', { reason: 'WARNING: the host key has CHANGED' })}
        now={2000 * 1000}
        onStop={noop}
        onRetry={noop}
        isBusy={action => action === 'retry:k1'}
      />
    );
    expect(html).toContain('>Disconnected</span>');
    expect(html).toContain('aria-label="Retry session torch"');
    expect(html).toContain('Retrying…');
    expect(html).toContain('aria-label="Stop session torch"');
  });

  it('a connecting card shows the start-up stage', () => {
    const html = render(
      <SessionCard
        session={session('connecting', { profile: '' })}
        now={2000 * 1000}
        progress={{ kernel_id: 'k1', server: 'gpu-box', stage: 'forwarding', message: 'ipc channels' }}
        onStop={noop}
      />
    );
    expect(html).toContain('Kernel k1');
    expect(html).toContain('role="status"');
    expect(html).toContain('forwarding: ipc channels');
    expect(html).toMatch(/<progress[^>]*max="4"[^>]*value="3"/);
  });

  it('a stopped card can be dismissed, not stopped', () => {
    const html = render(
      <SessionCard session={session('stopped')} now={0} onStop={noop} onDismiss={noop} />
    );
    expect(html).toContain('>Stopped</span>');
    expect(html).toContain('aria-label="Dismiss session torch"');
    expect(html).not.toContain('Stop session');
    expect(html).not.toContain('Uptime');
  });

  it('a forward card says what goes where and offers Open', () => {
    const html = render(
      <SessionCard
        session={{
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
        }}
        now={0}
        onOpen={noop}
        onStop={noop}
      />
    );
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
  const keys = [
    {
      host_id: '[127.0.0.1]:2222',
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:abc',
      added: '2026-01-02T03:04:05+00:00',
      source: 'jupyter-remote'
    },
    { host_id: 'github.com', key_type: 'ssh-rsa', fingerprint: 'SHA256:gh', source: 'known_hosts' }
  ];

  it('is a closed toggle with the count', () => {
    const html = render(
      <SecurityDrawer open={false} onToggle={noop} keys={keys} error={null} onRetry={noop} onRemove={noop} />
    );
    expect(html).toContain('aria-expanded="false"');
    expect(html).toContain('Security: trusted host keys (2)');
    expect(html).not.toContain('<table');
  });

  it('lists keys; only our own can be removed here', () => {
    const html = render(
      <SecurityDrawer open={true} onToggle={noop} keys={keys} error={null} onRetry={noop} onRemove={noop} />
    );
    expect(html).toContain('aria-expanded="true"');
    expect(html).toContain('aria-label="Trusted host keys"');
    expect(html).toContain('SHA256:abc');
    expect(html).toContain('ssh-ed25519');
    expect(html).toContain('aria-label="Remove trusted key of [127.0.0.1]:2222"');
    expect(html).not.toContain('aria-label="Remove trusted key of github.com"');
    expect(html).toContain('from ~/.ssh/known_hosts');
  });

  it('shows where known_hosts entries come from, their markers and skipped lines', () => {
    const rows = [
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
        marker: 'revoked' as const,
        hashed: false
      },
      {
        host_id: '*.example.org',
        key_type: 'ssh-ed25519',
        fingerprint: 'SHA256:ca',
        source: 'known_hosts',
        file: '/home/ada/.ssh/known_hosts',
        line: 3,
        marker: 'cert-authority' as const,
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
    const html = render(
      <SecurityDrawer open={true} onToggle={noop} keys={rows} error={null} onRetry={noop} onRemove={noop} />
    );
    expect(html).toContain('Security: trusted host keys (5)');
    expect(html).toContain('from /etc/ssh/ssh_known_hosts line 4, hashed host name');
    expect(html).toContain('revoked: never trusted');
    expect(html).toContain('certificate authority');
    expect(html).toContain('Skipped known_hosts lines (1)');
    expect(html).toContain('/home/ada/.ssh/known_hosts:7: no key on the line');
    expect(html).not.toContain('aria-label="Remove trusted key of *"');
  });

  it('says what to do when empty', () => {
    const html = render(
      <SecurityDrawer open={true} onToggle={noop} keys={[]} error={null} onRetry={noop} onRemove={noop} />
    );
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

  it('offers TCP kernel channels only as a warned, explicit choice', () => {
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
    const card = render(
      <ServerList
        servers={[tcpServer]}
        profiles={[]}
        onConnect={noop}
        onEdit={noop}
        onRemove={noop}
        onOpenNotebook={noop}
        onRemoveProfile={noop}
      />
    );
    expect(card).toContain('class="jp-remote-Warning" role="note"');
    expect(card).toContain('Kernel channels use a TCP port on the remote.');
  });
});

const CONNECT_IDLE: IConnectState = {
  status: 'testing',
  startedAt: 1000,
  result: null,
  unknown: null,
  changed: null,
  error: null
};

describe('ConnectStep', () => {
  const props = { address: 'ada@h:22', now: 4000, onTest: noop, onTrust: noop, onCancelTrust: noop };

  it('shows progress while testing', () => {
    const html = render(<ConnectStep {...props} connect={CONNECT_IDLE} />);
    expect(html).toContain('Connecting to ada@h:22… 3 s');
    expect(html).toContain('role="status"');
  });

  it('an unknown key: type, SHA256 fingerprint, Trust and Cancel', () => {
    const html = render(
      <ConnectStep
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
      <ConnectStep
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
      <ConnectStep
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
      <ConnectStep
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
    install: { python: '/usr/bin/python3', lines: ['Collecting ipykernel'], status: 'running', error: null }
  };

  it('groups by kind with version and ipykernel status; Install where missing; pip output', () => {
    const html = render(
      <EnvironmentStep
        server="box"
        environment={state}
        groups={groupEnvironments(environments)}
        onRefresh={noop}
        onSelect={noop}
        onCustomPath={noop}
        onUseCustom={noop}
        onInstall={noop}
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
      <EnvironmentStep
        server="box"
        environment={{ ...state, environments: [], install: null, selected: null }}
        groups={[]}
        onRefresh={noop}
        onSelect={noop}
        onCustomPath={noop}
        onUseCustom={noop}
        onInstall={noop}
      />
    );
    expect(html).toContain('No Python environment was found on box');
  });
});

describe('ReviewStep and WizardView', () => {
  const review: IReviewState = {
    name: 'gpu',
    cwd: '',
    envVars: [{ key: 'A', value: '1' }],
    idleTimeout: 3600,
    status: 'idle',
    error: null,
    fieldErrors: { name: 'taken' },
    profile: null
  };
  const reviewProps = {
    server: 'box',
    environment: '/usr/bin/python3',
    needsIpykernel: false,
    onName: noop,
    onCwd: noop,
    onIdleTimeout: noop,
    onAddEnvVar: noop,
    onEnvVar: noop,
    onRemoveEnvVar: noop,
    onStart: noop,
    onInstallAndStart: noop,
    onOpenNotebook: noop,
    onClose: noop
  };

  it('labels every field and shows field errors', () => {
    const html = render(<ReviewStep {...reviewProps} review={review} />);
    expect(html).toContain('>Profile name</label>');
    expect(html).toContain('remote-gpu');
    expect(html).toMatch(/id="jp-remote-review-name"[^>]*aria-invalid="true"/);
    expect(html).toContain('taken');
    expect(html).toContain('aria-label="Name of variable 1"');
    expect(html).toContain('>1 hour</option>');
  });

  it('ipykernel_missing offers install and start', () => {
    const html = render(
      <ReviewStep
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
      <ReviewStep
        {...reviewProps}
        review={{ ...review, status: 'saved', profile: { ...PROFILE, name: 'gpu', kernel_name: 'remote-gpu' } }}
      />
    );
    expect(html).toContain('Profile gpu saved.');
    expect(html).toContain('remote-gpu');
    expect(html).toContain('>Open notebook</button>');
  });

  it('the wizard shows the steps, the current one marked', () => {
    const state = {
      server: 'box',
      step: 'environment' as const,
      stepIndex: 1,
      connect: CONNECT_IDLE,
      environment: {
        status: 'loading' as const,
        environments: [],
        error: null,
        selected: null,
        customPath: '',
        useCustom: false,
        install: null
      },
      review,
      groups: [],
      blocker: 'Choose an environment, or type an interpreter path.',
      canGoBack: true,
      canGoNext: false,
      needsIpykernel: false,
      chosenPython: '',
      selectedEnvironment: null
    };
    const html = render(
      <WizardView
        state={state}
        address="ada@h:22"
        now={0}
        onBack={noop}
        onNext={noop}
        onClose={noop}
        onTest={noop}
        onTrust={noop}
        onCancelTrust={noop}
        onRefreshEnvironments={noop}
        onSelect={noop}
        onCustomPath={noop}
        onUseCustom={noop}
        onInstall={noop}
        onName={noop}
        onCwd={noop}
        onIdleTimeout={noop}
        onAddEnvVar={noop}
        onEnvVar={noop}
        onRemoveEnvVar={noop}
        onStart={noop}
        onInstallAndStart={noop}
        onOpenNotebook={noop}
      />
    );
    expect(html).toContain('Connect to box');
    expect(html).toContain('aria-label="Steps"');
    expect(html).toMatch(/aria-current="step"[^>]*>.*Environment/);
    expect(html).toContain('(done)');
    expect(html).toContain('Step 2 of 3: Environment');
    expect(html).toContain('Looking for Python environments on box');
    expect(html).toMatch(/<button[^>]*disabled=""[^>]*>Next<\/button>/);
    expect(html).toContain(state.blocker);
  });
});

describe('RemoteView', () => {
  const base = { loading: false, loaded: true, error: null, onRefresh: noop };

  it('shows the loading indicator before the first answer', () => {
    const html = render(<RemoteView {...base} servers={[]} loading={true} loaded={false} />);
    expect(html).toContain('Loading servers');
    expect(html).not.toContain('No saved servers yet');
  });

  it('empty: what to do first, for servers and sessions', () => {
    const html = render(
      <RemoteView {...base} servers={[]} onAddServer={noop} sessionsLoaded={true} eventsState="live" />
    );
    expect(html).toContain('No saved servers yet');
    expect(html).toContain('aria-label="Add server"');
    expect(html).toContain('No remote sessions.');
    expect(html).toContain('Add a server and connect to it first');
    expect(html).toContain('(live)');
  });

  it('shows the error and keeps the last servers', () => {
    const html = render(
      <RemoteView {...base} servers={[KEY_SERVER]} error={{ message: 'Boom', reason: '', hint: 'Try again' }} />
    );
    expect(html).toContain('Boom');
    expect(html).toContain('gpu-box');
    expect(html).toContain('aria-label="Retry loading servers"');
  });

  it('shows the form instead of the list, sessions, the drawer and an action error', () => {
    const html = render(
      <RemoteView
        {...base}
        servers={[KEY_SERVER]}
        form={{ mode: 'add', saving: false, error: null }}
        onSubmitServer={noop}
        onCancelForm={noop}
        sessions={[session('running')]}
        eventsState="down"
        now={2000 * 1000}
        onToggleSecurity={noop}
        securityOpen={false}
        hostKeys={[]}
        actionError={{ label: 'Remove server x', error: { message: 'nope', reason: '', hint: '' }, retry: noop }}
        onDismissActionError={noop}
      />
    );
    expect(html).toContain('aria-label="Add a server"');
    expect(html).not.toContain('aria-label="Saved servers"');
    expect(html).toContain('aria-label="Remote sessions"');
    expect(html).toContain('live updates unavailable, refreshing every 10 s');
    expect(html).toContain('Security: trusted host keys (0)');
    expect(html).toContain('Remove server x failed:');
    expect(html).toContain('aria-label="Retry: Remove server x"');
  });
});

describe('server tools', () => {
  it('lists kernels on the server: Attach/Stop for the others, none for ours', () => {
    const html = render(
      <RemoteKernels
        server="gpu-box"
        state={{
          loading: false,
          loaded: true,
          error: null,
          kernels: [
            { kernel_id: 'aaaaaaaa-1111', state: 'running', profile: 'torch', started: 1000 },
            { kernel_id: 'bbbbbbbb-2222', state: 'running', profile: 'torch', started: 1000 },
            { kernel_id: 'cccccccc-3333', state: 'dead', profile: 'torch', reason: 'killed by signal 9' }
          ]
        }}
        attachedIds={new Set(['bbbbbbbb-2222'])}
        now={1060 * 1000}
        onRefresh={noop}
        onAttach={noop}
        onStop={noop}
      />
    );
    expect(html).toContain('aria-label="Kernels running on gpu-box"');
    expect(html).toContain('aria-label="Attach kernel aaaaaaaa and open a notebook on it"');
    expect(html).not.toContain('Attach kernel bbbbbbbb');
    expect(html).toContain('attached here');
    expect(html).not.toContain('Attach kernel cccccccc');
    expect(html).toContain('aria-label="Stop kernel cccccccc on gpu-box"');
    expect(html).toContain('killed by signal 9');
    expect(html).toContain('started 1 min 00 s ago');
  });

  it('says so when there is none, and shows errors with Retry', () => {
    const empty = render(
      <RemoteKernels
        server="gpu-box"
        state={{ loading: false, loaded: true, error: null, kernels: [] }}
        attachedIds={new Set()}
        now={0}
        onRefresh={noop}
        onAttach={noop}
        onStop={noop}
      />
    );
    expect(empty).toContain('No kernel of yours runs on gpu-box.');
    const failed = render(
      <RemoteKernels
        server="gpu-box"
        state={{ loading: false, loaded: true, error: { message: 'unreachable', reason: '', hint: 'h' }, kernels: [] }}
        attachedIds={new Set()}
        now={0}
        onRefresh={noop}
        onAttach={noop}
        onStop={noop}
      />
    );
    expect(failed).toContain('aria-label="Retry listing the kernels on gpu-box"');
  });

  it('the forward form is labelled', () => {
    const html = render(<ForwardForm server="gpu-box" busy={false} error={null} onSubmit={noop} />);
    expect(html).toContain('aria-label="Forward a port of gpu-box"');
    expect(html).toContain('>Remote port</label>');
    expect(html).toContain('>Local port (optional)</label>');
    expect(html).toContain('>Forward</button>');
  });

  it('server tools fold out under a server', () => {
    const html = render(
      <ServerList
        servers={[KEY_SERVER]}
        openTool={() => 'forward'}
        onToggleTool={noop}
        onForward={noop}
      />
    );
    expect(html).toMatch(/aria-expanded="false"[^>]*>.*Kernels on the server/);
    expect(html).toMatch(/aria-expanded="true"[^>]*>.*Forward a port/);
    expect(html).toContain('aria-label="Forward a port of gpu-box"');
  });
});
