/**
 * SidebarModel: the server form (save, refusals at their field, the wizard
 * after adding, the focus back), confirmations before removals and stops,
 * the folded-out tools and the Security drawer, visibility (polling) and the
 * clock of the uptimes.
 */
import { RemoteAPIError } from '../api';
import { disposeModels, IModels, makeModels, PROFILES, SERVERS, session } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

describe('SidebarModel', () => {
  let m: IModels;

  beforeEach(async () => {
    m = await makeModels();
  });

  afterEach(() => {
    disposeModels(m);
  });

  it('adds a server: saves, closes the form, lists again, then opens its wizard', async () => {
    m.sidebar.openAddForm();
    expect(m.sidebar.form).toMatchObject({ mode: 'add', saving: false });
    const listed = m.catalogAPI.listServers.mock.calls.length;
    const pending = m.sidebar.submitServer({ name: 'new-box', host: 'new.example.org' });
    expect(m.sidebar.form?.saving).toBe(true);
    await pending;
    expect(m.catalogAPI.addServer).toHaveBeenCalledWith({ name: 'new-box', host: 'new.example.org' });
    expect(m.sidebar.form).toBeNull();
    expect(m.opened.focused).toEqual(['Add server']);
    expect(m.catalogAPI.listServers.mock.calls.length).toBe(listed + 1);
    expect(m.opened.wizards).toEqual(['new-box']);
  });

  it('edits a server (PATCH, no wizard) and gives the focus back to its Edit button', async () => {
    m.sidebar.openEditForm(SERVERS[0]);
    await m.sidebar.submitServer({ jump: 'hop' });
    expect(m.catalogAPI.updateServer).toHaveBeenCalledWith('gpu-box', { jump: 'hop' });
    expect(m.opened.wizards).toEqual([]);
    expect(m.opened.focused).toEqual(['Edit server gpu-box']);
  });

  it('a refusal stays in the form; a name taken is about the name field', async () => {
    m.catalogAPI.addServer.mockRejectedValueOnce(
      new RemoteAPIError({ status: 409, message: "Server 'gpu-box' exists.", reason: 'conflict' })
    );
    m.sidebar.openAddForm();
    await m.sidebar.submitServer({ name: 'gpu-box', host: 'h' });
    expect(m.sidebar.form).toMatchObject({ saving: false, error: { field: 'name', reason: 'conflict' } });
    expect(m.opened.wizards).toEqual([]);
    m.sidebar.closeForm();
    expect(m.sidebar.form).toBeNull();
  });

  it('asks before removing a server (naming its profiles) and does nothing when cancelled', async () => {
    m.answer.accept = false;
    await m.sidebar.removeServer(SERVERS[0]);
    expect(m.questions[0]).toMatchObject({ title: 'Remove server', ariaLabel: 'Remove server gpu-box' });
    expect(m.questions[0].body).toContain('its profiles torch, base');
    expect(m.catalogAPI.removeServer).not.toHaveBeenCalled();
    m.answer.accept = true;
    await m.sidebar.removeServer(SERVERS[0]);
    expect(m.catalogAPI.removeProfile).toHaveBeenCalledTimes(2);
    expect(m.catalogAPI.removeServer).toHaveBeenCalledWith('gpu-box');
  });

  it('asks before removing a profile, a host key, or stopping a kernel on the server', async () => {
    await m.sidebar.removeProfile(PROFILES[0]);
    await m.sidebar.removeHostKey({ host_id: 'h', key_type: 'ssh-ed25519', fingerprint: 'SHA256:x', source: 'jupyter-remote' });
    await m.sidebar.stopRemoteKernel('gpu-box', { kernel_id: 'old1', state: 'running' });
    expect(m.questions.map(q => q.ariaLabel)).toEqual([
      'Remove profile torch',
      'Remove the key of h',
      'Stop kernel old1'
    ]);
    expect(m.questions[1].body).toContain('SHA256:x');
    expect(m.catalogAPI.removeProfile).toHaveBeenCalledWith('torch');
    expect(m.catalogAPI.removeHostKey).toHaveBeenCalledWith('h');
    expect(m.sessionsAPI.stopRemoteKernel).toHaveBeenCalledWith('gpu-box', 'old1');
  });

  it('attaches a kernel and opens a notebook on it; opens notebooks, wizards and forwards', async () => {
    await m.sidebar.attach('gpu-box', { kernel_id: 'old1', state: 'running', cwd: '/data' });
    // the listing's kernel goes along: its notebook opens where it runs (sidebar/notebooks.ts)
    expect(m.opened.kernels).toEqual(['old1 on gpu-box in /data']);
    m.sidebar.openNotebook(PROFILES[0]);
    m.sidebar.connect(SERVERS[1]);
    m.sidebar.openForward(session('f1', 'running', { kind: 'forward', url: '/remote/forward/f1/' }));
    m.sidebar.openForward(session('f2', 'running', { kind: 'forward' }));
    expect(m.opened.notebooks).toEqual(['remote-torch']);
    expect(m.opened.wizards).toEqual(['cluster']);
    expect(m.opened.tabs).toEqual(['/remote/forward/f1/']);
  });

  it('folds tools out (listing the kernels) and in; the Security drawer lists the keys', () => {
    m.sidebar.toggleTool('gpu-box', 'kernels');
    expect(m.sidebar.openTool('gpu-box')).toBe('kernels');
    expect(m.sessionsAPI.listRemoteKernels).toHaveBeenCalledWith('gpu-box');
    m.sidebar.toggleTool('gpu-box', 'forward');
    expect(m.sidebar.openTool('gpu-box')).toBe('forward');
    m.sidebar.toggleTool('gpu-box', 'forward');
    expect(m.sidebar.openTool('gpu-box')).toBeNull();
    const listed = m.catalogAPI.listHostKeys.mock.calls.length;
    m.sidebar.toggleSecurity();
    expect(m.sidebar.securityOpen).toBe(true);
    expect(m.catalogAPI.listHostKeys.mock.calls.length).toBe(listed + 1);
    m.sidebar.toggleSecurity();
    expect(m.sidebar.securityOpen).toBe(false);
  });

  it('names a session by its profile kernel', () => {
    expect(m.sidebar.displayNameOf(session('k1', 'running'))).toBe('Python 3.11 · torch — gpu-box');
    expect(m.sidebar.displayNameOf(session('k1', 'running', { profile: 'base' }))).toBeUndefined();
    expect(m.sidebar.displayNameOf(session('k1', 'running', { profile: '' }))).toBeUndefined();
  });
});

describe('SidebarModel visibility and clock', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('polls the catalog only while shown; ticks only while shown with a live session', async () => {
    const m = await makeModels({ load: false });
    let ticks = 0;
    m.sidebar.changed.connect(() => ticks++);
    m.sidebar.setVisible(true);
    expect(m.catalog.polling).toBe(true);
    await jest.advanceTimersByTimeAsync(5000);
    expect(ticks).toBe(0); // no session: no uptime to tick
    m.sessions.handleEvent({ type: 'hello', sessions: [session('k1', 'running')] });
    await jest.advanceTimersByTimeAsync(3000);
    expect(ticks).toBe(3);
    m.sidebar.setVisible(false);
    expect(m.catalog.polling).toBe(false);
    await jest.advanceTimersByTimeAsync(5000);
    expect(ticks).toBe(3);
    m.sidebar.setVisible(true);
    m.sessions.handleEvent({ type: 'hello', sessions: [session('k1', 'stopped')] });
    await jest.advanceTimersByTimeAsync(5000);
    expect(ticks).toBe(3); // only stopped cards: nothing ticks
    disposeModels(m);
    expect(m.catalog.polling).toBe(false);
  });
});
