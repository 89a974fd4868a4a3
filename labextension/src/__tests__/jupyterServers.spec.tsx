/**
 * Jupyter servers that already run elsewhere (issue 15) in the sidebar: the
 * add form's kind, the Jupyter form's values and checks, the server's item
 * (URL, via, kernelspecs that open notebooks), and a kernel's card.
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import {
  initialJupyterValues,
  JupyterServerForm,
  ServerForm,
  ServerList,
  SessionCard,
  toJupyterServerInput,
  validateJupyterServerForm
} from '../components';
import { IJupyterKernelspec, IServer, ISession } from '../tokens';
import { disposeModels, IModels, makeModels } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

const LAB: IServer = {
  name: 'lab',
  kind: 'jupyter',
  url: 'http://127.0.0.1:8888/',
  auth: 'token',
  via: 'gate',
  default_kernel: null,
  ca_file: null,
  host: undefined as unknown as string,
  port: null,
  user: null,
  identity: null,
  jump: null,
  channel_transport: 'unix',
  warnings: [],
  readonly: false,
  has_secret: true
};

const SPECS: IJupyterKernelspec[] = [
  {
    name: 'python3',
    kind: 'jupyter-kernelspec',
    display_name: 'Python 3 (ipykernel) — lab (Jupyter)',
    language: 'python',
    kernel_name: 'remote-lab--python3',
    default: true
  }
];

const noop = (): void => undefined;
const made: IModels[] = [];

async function models(): Promise<IModels> {
  const m = await makeModels({
    catalogAPI: {
      listServers: jest.fn(() => Promise.resolve([LAB])),
      listProfiles: jest.fn(() => Promise.resolve([])),
      listJupyterKernelspecs: jest.fn(() => Promise.resolve(SPECS))
    }
  });
  made.push(m);
  return m;
}

afterEach(() => {
  while (made.length) {
    disposeModels(made.pop()!);
  }
});

describe('the Jupyter server form', () => {
  it('the add form asks for the kind; an edit keeps it', () => {
    const add = renderToStaticMarkup(
      <ServerForm mode="add" saving={false} error={null} onSubmit={noop} onCancel={noop} />
    );
    expect(add).toContain('<legend>Kind</legend>');
    expect(add).toMatch(/<input(?=[^>]*value="ssh")(?=[^>]*checked="")[^>]*>/);
    expect(add).toContain('Jupyter server');
    const edit = renderToStaticMarkup(
      <ServerForm mode="edit" server={LAB} saving={false} error={null} onSubmit={noop} onCancel={noop} />
    );
    expect(edit).not.toContain('<legend>Kind</legend>');
    expect(edit).toContain('name="url"');
    expect(edit).toContain('A token is saved; type a new one to replace it.');
    expect(edit).toContain('<option value="gate" selected="">gate</option>');
  });

  it('offers the saved SSH servers as the way through, and shows the server\'s 400 at its field', () => {
    const html = renderToStaticMarkup(
      <JupyterServerForm
        mode="add"
        saving={false}
        error={{ message: 'No saved server nope.', reason: 'invalid', hint: 'Save it first.', field: 'via' }}
        sshServers={['gate', 'gpu-box']}
        onSubmit={noop}
        onCancel={noop}
      />
    );
    expect(html).toContain('<option value="" selected="">Directly (no tunnel)</option>');
    expect(html).toContain('<option value="gate">gate</option>');
    expect(html).toContain('No saved server nope. Save it first.');
    expect(html).toMatch(/<input(?=[^>]*value="token")(?=[^>]*checked="")[^>]*>/);
    expect(html).toMatch(/<input[^>]*type="password"[^>]*name="token"/);
    expect(html).toContain('Save and list kernels');
  });

  it('checks the URL, refuses a token inside it, and asks for the secret of its method', () => {
    const ok = { ...initialJupyterValues(), name: 'lab', url: 'https://lab.example.org/', token: 't0k' };
    expect(validateJupyterServerForm(ok)).toEqual({});
    expect(validateJupyterServerForm({ ...ok, url: 'lab.example.org' }).url).toContain('URL');
    expect(validateJupyterServerForm({ ...ok, url: 'http://h:8888/lab?token=abc' }).url).toContain('Token field');
    expect(validateJupyterServerForm({ ...ok, token: '' }).token).toBeTruthy();
    expect(validateJupyterServerForm({ ...ok, token: '' }, 'edit').token).toBeUndefined();
    expect(validateJupyterServerForm({ ...ok, auth: 'none', token: '' })).toEqual({});
    expect(validateJupyterServerForm({ ...ok, ca_file: 'ca.pem' }).ca_file).toContain('absolute');
  });

  it('sends kind, URL and the secret of the chosen method only', () => {
    const values = {
      ...initialJupyterValues(),
      name: ' lab ',
      url: ' http://127.0.0.1:8888/ ',
      token: 't0k',
      password: 'stale',
      via: 'gate'
    };
    expect(toJupyterServerInput(values, 'add')).toEqual({
      kind: 'jupyter',
      name: 'lab',
      url: 'http://127.0.0.1:8888/',
      auth: 'token',
      via: 'gate',
      default_kernel: null,
      ca_file: null,
      token: 't0k'
    });
    const edit = toJupyterServerInput({ ...values, auth: 'none' }, 'edit');
    expect(edit).not.toHaveProperty('name');
    expect(edit).not.toHaveProperty('token');
    expect(edit).not.toHaveProperty('password');
    expect(initialJupyterValues(LAB)).toMatchObject({ url: LAB.url, via: 'gate', auth: 'token', token: '' });
  });
});

describe('a saved Jupyter server', () => {
  it('shows its URL, its way through and its kernelspecs, each opening a notebook', async () => {
    const m = await models();
    expect(m.catalog.kernelspecsOf('lab')).toBeNull();
    const changed = jest.fn();
    m.catalog.profilesChanged.connect(changed);
    await m.catalog.loadKernelspecs('lab');
    expect(m.catalogAPI.listJupyterKernelspecs).toHaveBeenCalledWith('lab');
    expect(changed).toHaveBeenCalled(); // the kernel picker refreshes
    const html = renderToStaticMarkup(<ServerList catalog={m.catalog} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toContain('http://127.0.0.1:8888/');
    expect(html).toContain('SSH server <code>gate</code>');
    expect(html).toContain('Python 3 (ipykernel) — lab (Jupyter)');
    expect(html).toContain('aria-label="Open a notebook on Python 3 (ipykernel) — lab (Jupyter)"');
    expect(html).not.toContain('Connect…'); // no wizard for a Jupyter server
    m.sidebar.openKernelspec(SPECS[0].kernel_name);
    expect(m.opened.notebooks).toEqual(['remote-lab--python3']);
  });

  it('saving one lists its kernelspecs instead of opening the wizard', async () => {
    const m = await models();
    m.catalogAPI.addServer.mockImplementation(input => Promise.resolve({ ...LAB, ...input } as IServer));
    m.sidebar.openAddForm();
    await m.sidebar.submitServer({ kind: 'jupyter', name: 'lab', url: LAB.url, token: 't' });
    await Promise.resolve();
    expect(m.opened.wizards).toEqual([]);
    expect(m.catalogAPI.listJupyterKernelspecs).toHaveBeenCalledWith('lab');
  });

  it('a kernel of it says which remote kernel its card is about', async () => {
    const m = await models();
    const s: ISession = {
      id: 'k9',
      kind: 'kernel',
      kernel_id: 'k9',
      server: 'lab',
      profile: '',
      python: null,
      state: 'reconnecting',
      reason: 'the link to the Jupyter server was lost; the kernel keeps running there',
      started: 1000,
      reconnects: 0,
      local_ports: [],
      target: 'jupyter',
      remote_kernel_id: 'abcdef1234567890',
      kernel_name: 'python3'
    };
    m.sessions.handleEvent({ type: 'hello', sessions: [s] });
    const card = renderToStaticMarkup(
      <SessionCard session={m.sessions.sessions[0]} sessions={m.sessions} sidebar={m.sidebar} />
    );
    expect(card).toContain('<code>python3</code> on the Jupyter server (its kernel abcdef12)');
    expect(card).toContain('the kernel keeps running there');
  });

  it("a kernel whose start the server refused says why and what to do, with the stage it reached", async () => {
    const m = await models();
    m.sessions.handleEvent({
      type: 'progress',
      kernel_id: 'k7',
      server: 'lab',
      stage: 'tunnel',
      message: 'through the SSH server gate'
    });
    const connecting = renderToStaticMarkup(
      <SessionCard session={m.sessions.sessions[0]} sessions={m.sessions} sidebar={m.sidebar} />
    );
    expect(connecting).toContain('tunnel: through the SSH server gate');
    const failed: ISession = {
      id: 'k7',
      kind: 'kernel',
      kernel_id: 'k7',
      server: 'lab',
      profile: '',
      python: null,
      state: 'stopped',
      reason: 'the kernel did not start: the Jupyter server lab refused the token (HTTP 403).',
      started: 1000,
      reconnects: 0,
      local_ports: [],
      target: 'jupyter',
      remote_kernel_id: '',
      kernel_name: 'python3',
      start_failed: true,
      hint: 'Check the token or password.'
    };
    m.sessions.handleEvent({ type: 'session', session: failed });
    const card = renderToStaticMarkup(
      <SessionCard session={m.sessions.sessions[0]} sessions={m.sessions} sidebar={m.sidebar} />
    );
    expect(card).toContain('refused the token (HTTP 403)');
    expect(card).toContain('Check the token or password.');
    expect(card).toContain('Retry starting the kernel of session'); // the same kernelspec
    m.sidebar.retryStart(m.sessions.sessions[0]);
    expect(m.opened.retried).toEqual(['remote-lab--python3']);
    expect(m.sessions.sessions.map(s => s.id)).not.toContain('k7'); // the card makes way
    const unnamed = { ...failed, id: 'k8', kernel_id: 'k8', kernel_name: '' };
    expect(m.sidebar.canRetryStart(unnamed)).toBe(false); // nothing to start again
  });
});
