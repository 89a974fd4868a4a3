/**
 * Issue 13, items 7-11 and 13 in the frontend: editing a profile with the
 * wizard (PATCH), a missing working directory created on request, creating an
 * environment (streamed, then chosen), the GPU picker and the GPU summary, a
 * failed start's card (why, the fix, Retry), and long values shortened with
 * the whole value on hover and a copy button.
 */
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { RemoteAPIError } from '../api';
import { Copyable, GpuSummary, ReviewStep, SessionCard, shortFingerprint, shortPath } from '../components';
import { IEnvironment, IGpu, IProfile, ITestResult } from '../tokens';
import { INITIAL_REVIEW, pinnedGpus, toggleGpu, WizardModel } from '../wizard';
import { disposeModels, makeModels, session } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

const render = (element: JSX.Element): string => renderToStaticMarkup(element);
const flush = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 0));

const GPUS: IGpu[] = [
  {
    index: 0,
    uuid: 'GPU-6e1c2b3a',
    name: 'NVIDIA A100-SXM4-80GB',
    memory_used_mib: 10541,
    memory_total_mib: 81920,
    utilization_percent: 87,
    processes: 2
  },
  {
    index: 1,
    uuid: 'GPU-0b9d42f1',
    name: 'NVIDIA A100-SXM4-80GB',
    memory_used_mib: 4,
    memory_total_mib: 81920,
    utilization_percent: null,
    processes: 0
  }
];

const RESULT: ITestResult = {
  server: 'box',
  endpoint: 'ada@h:22',
  reachable: true,
  auth: 'ok',
  auth_method: 'key',
  host_key: {},
  connect_ms: 1,
  rtt_ms: 1,
  os: 'Debian',
  python: { path: '/usr/bin/python3', version: '3.11.2' },
  gpus: { devices: GPUS, error: null }
};

const SYSTEM: IEnvironment = {
  python: '/usr/bin/python3',
  kind: 'system',
  name: 'system',
  version: '3.11.2',
  ipykernel: false,
  path: '/usr'
};

const PROFILE: IProfile = {
  name: 'torch',
  server: 'box',
  python: '/home/ada/venv/bin/python',
  kernelspec: null,
  cwd: '~/work',
  env: { A: '1' },
  idle_timeout: 900,
  display_name: 'Python 3.11 · venv — box (torch, ~/work)',
  custom_display_name: null,
  readonly: false,
  kernel_name: 'remote-torch'
};

function wizardWith(api: Partial<WizardModel.IAPI>, options: Partial<WizardModel.IOptions> = {}) {
  const calls = {
    testServer: jest.fn(() => Promise.resolve(RESULT)),
    trustHostKey: jest.fn(() => Promise.resolve({})),
    listEnvironments: jest.fn(() => Promise.resolve([SYSTEM])),
    installIpykernel: jest.fn(() => Promise.resolve()),
    addProfile: jest.fn((input: IProfile) => Promise.resolve({ ...PROFILE, ...input })),
    updateProfile: jest.fn((name: string, changes: Partial<IProfile>) =>
      Promise.resolve({ ...PROFILE, ...changes, name })
    ),
    createEnvironment: jest.fn(),
    ...api
  };
  const wizard = new WizardModel({ server: 'box', api: calls as unknown as WizardModel.IAPI, ...options });
  return { wizard, calls };
}

describe('editing a profile with the wizard', () => {
  it('opens on Review, prefilled, keeps the name, and saves with PATCH', async () => {
    const { wizard, calls } = wizardWith({}, { profile: PROFILE });
    expect(wizard.step).toBe('review');
    expect(wizard.review.name).toBe('torch');
    expect(wizard.review.cwd).toBe('~/work');
    expect(wizard.review.envVars).toEqual([{ key: 'A', value: '1' }]);
    expect(wizard.chosenPython).toBe('/home/ada/venv/bin/python');
    wizard.setCwd('/data');
    wizard.setDisplayName('Torch');
    await wizard.save();
    expect(calls.addProfile).not.toHaveBeenCalled();
    const updated = calls.updateProfile as unknown as jest.Mock;
    const [name, changes, options] = updated.mock.calls[0] as [string, Record<string, unknown>, unknown];
    expect(name).toBe('torch');
    expect(changes).toMatchObject({ cwd: '/data', display_name: 'Torch', env: { A: '1' } });
    expect(changes).not.toHaveProperty('name');
    expect(changes).not.toHaveProperty('python'); // the Environment step was never opened
    expect(options).toEqual({});
    expect(wizard.review.status).toBe('saved');
  });

  it('Back lists the environments and picks the listed one of the profile', async () => {
    const venv = { ...SYSTEM, python: PROFILE.python!, kind: 'venv', name: 'venv', ipykernel: true };
    const { wizard } = wizardWith({ listEnvironments: jest.fn(() => Promise.resolve([SYSTEM, venv])) }, { profile: PROFILE });
    await wizard.start();
    wizard.back();
    await flush();
    expect(wizard.step).toBe('environment');
    expect(wizard.environment.useCustom).toBe(false);
    expect(wizard.selectedEnvironment?.python).toBe(PROFILE.python);
  });

  it('the Review step says Edit and locks the name', () => {
    const html = render(
      <ReviewStep
        model={{ ...reviewStub(), editing: PROFILE, review: { ...INITIAL_REVIEW, name: 'torch' } }}
        onOpenNotebook={() => undefined}
      />
    );
    expect(html).toMatch(/id="jp-remote-review-name"[^>]*disabled/);
    expect(html).toContain('A profile keeps its name');
  });
});

describe('a missing working directory', () => {
  it('is offered to be created, then saved with create_cwd', async () => {
    const missing = new RemoteAPIError({
      status: 409,
      message: 'The working directory ~/work does not exist on box',
      reason: 'cwd_missing',
      hint: 'Create it with --create-cwd',
      field: 'cwd'
    });
    const addProfile = jest.fn().mockRejectedValueOnce(missing).mockResolvedValue(PROFILE);
    const { wizard } = wizardWith({ addProfile });
    await wizard.start();
    wizard.next();
    wizard.select('python:/usr/bin/python3');
    wizard.setCustomPath('/home/ada/venv/bin/python');
    wizard.next();
    wizard.setCwd('~/work');
    await wizard.save();
    expect(wizard.needsCwd).toBe(true);
    expect(wizard.review.fieldErrors.cwd).toContain('does not exist');
    const html = render(
      <ReviewStep model={{ ...reviewStub(), review: wizard.review, needsCwd: true }} onOpenNotebook={() => undefined} />
    );
    expect(html).toContain('Create ~/work and start');
    await wizard.createCwdAndSave();
    expect(addProfile.mock.calls[1][1]).toEqual({ createCwd: true });
    expect(wizard.review.status).toBe('saved');
  });
});

describe('creating an environment', () => {
  it('streams the output, lists again and chooses the new environment', async () => {
    const made: IEnvironment = { ...SYSTEM, python: '/home/ada/.virtualenvs/jupyter-3.11/bin/python', kind: 'venv', name: 'jupyter-3.11', ipykernel: true };
    const listEnvironments = jest.fn().mockResolvedValueOnce([SYSTEM]).mockResolvedValue([SYSTEM, made]);
    const createEnvironment = jest.fn(async (_server: string, _input: unknown, onOutput: (line: string) => void) => {
      onOutput('$ /usr/bin/python3 -m venv /home/ada/.virtualenvs/jupyter-3.11');
      onOutput('Successfully installed ipykernel-6.29.5');
      return { python: made.python, path: made.path, tool: 'venv', name: made.name };
    });
    const { wizard } = wizardWith({ listEnvironments, createEnvironment });
    await wizard.start();
    wizard.next();
    await flush();
    wizard.openCreate('/usr/bin/python3');
    wizard.setCreate({ tool: 'venv' });
    expect(await wizard.createEnvironment()).toBe(true);
    expect(createEnvironment).toHaveBeenCalledWith('box', { python: '/usr/bin/python3', name: null, tool: 'venv' }, expect.any(Function));
    expect(wizard.environment.create?.lines).toHaveLength(2);
    expect(wizard.environment.create?.status).toBe('done');
    expect(listEnvironments).toHaveBeenLastCalledWith('box', { refresh: true });
    expect(wizard.chosenPython).toBe(made.python);
    expect(wizard.blocker).toBe('');
  });

  it('a system Python pip refuses (PEP 668) offers a new environment, not Install', async () => {
    const refused = new RemoteAPIError({
      status: 409,
      message: 'ipykernel is not installed',
      reason: 'ipykernel_missing',
      hint: 'jupyter remote env create box --python /usr/bin/python3',
      details: { externally_managed: true }
    });
    const { wizard } = wizardWith({ addProfile: jest.fn().mockRejectedValue(refused) });
    await wizard.start();
    wizard.next();
    wizard.setCustomPath('/usr/bin/python3');
    wizard.next();
    await wizard.save();
    expect(wizard.needsNewEnvironment).toBe(true);
    const html = render(
      <ReviewStep
        model={{ ...reviewStub(), review: wizard.review, needsIpykernel: true, needsNewEnvironment: true }}
        onOpenNotebook={() => undefined}
      />
    );
    expect(html).toContain('Create an environment from it');
    expect(html).not.toContain('Install ipykernel and start');
  });
});

describe('GPUs', () => {
  it('the picker pins CUDA_VISIBLE_DEVICES in nvidia-smi order, none ticked: all GPUs', async () => {
    let rows = toggleGpu([{ key: 'A', value: '1' }], 1);
    expect(rows).toEqual([
      { key: 'A', value: '1' },
      { key: 'CUDA_VISIBLE_DEVICES', value: '1' },
      { key: 'CUDA_DEVICE_ORDER', value: 'PCI_BUS_ID' }
    ]);
    rows = toggleGpu(rows, 0);
    expect(pinnedGpus(rows)).toEqual([0, 1]);
    expect(rows.find(r => r.key === 'CUDA_VISIBLE_DEVICES')?.value).toBe('0,1');
    expect(toggleGpu(toggleGpu(rows, 0), 1)).toEqual([{ key: 'A', value: '1' }]);

    const { wizard } = wizardWith({});
    await wizard.start();
    expect(wizard.gpus).toEqual(GPUS);
    wizard.toggleGpu(1);
    expect(wizard.pinnedGpus).toEqual([1]);
    const html = render(
      <ReviewStep
        model={{ ...reviewStub(), review: wizard.review, gpus: GPUS, pinnedGpus: [1] }}
        onOpenNotebook={() => undefined}
      />
    );
    expect(html).toContain('GPUs the kernel may use');
    expect(html).toContain('10.3/80.0 GiB · 87% busy · 2 processes');
    expect(html).toContain('n/a busy · 0 processes');
    expect(html).toContain('CUDA_VISIBLE_DEVICES=1');
  });

  it('the server card shows what the last probe saw, with a Refresh', async () => {
    const m = await makeModels();
    const server = m.catalog.servers[0];
    const spy = jest
      .spyOn(m.catalog, 'gpusOf')
      .mockReturnValue({ server: server.name, gpus: { devices: GPUS, error: null }, probed_at: 1000 });
    const html = render(<GpuSummary server={server} catalog={m.catalog} sidebar={m.sidebar} />);
    expect(html).toContain(`aria-label="GPUs of ${server.name}"`);
    expect(html).toContain('0 · NVIDIA A100-SXM4-80GB');
    expect(html).toContain(`aria-label="Refresh the GPUs of ${server.name}"`);
    spy.mockReturnValue({ server: server.name, gpus: { devices: [], error: 'nvidia-smi failed (exit 9): NVIDIA-SMI has failed' }, probed_at: 1 });
    expect(render(<GpuSummary server={server} catalog={m.catalog} sidebar={m.sidebar} />)).toContain('exit 9');
    spy.mockReturnValue(null);
    expect(render(<GpuSummary server={server} catalog={m.catalog} sidebar={m.sidebar} />)).toBe('');
    disposeModels(m);
  });
});

describe('a kernel whose start failed', () => {
  it('keeps its card: why, the fix, Retry (which starts its kernelspec again)', async () => {
    const m = await makeModels();
    const failed = session('k1', 'stopped', {
      profile: 'torch',
      reason: 'the kernel did not start: working directory ~/work does not exist on the remote',
      hint: 'Create it, or change the profile\'s working directory.',
      start_failed: true
    });
    m.sessions.handleEvent({ type: 'session', session: failed });
    const html = render(<SessionCard session={failed} sessions={m.sessions} sidebar={m.sidebar} />);
    expect(html).toContain('does not exist on the remote');
    expect(html).toContain('<strong>Fix:</strong>');
    expect(html).toContain('Retry starting the kernel of session');
    m.sidebar.retryStart(failed);
    expect(m.opened.retried).toEqual(['remote-torch']);
    const plain = session('k2', 'stopped', { profile: 'torch', reason: 'stopped by you' });
    expect(render(<SessionCard session={plain} sessions={m.sessions} sidebar={m.sidebar} />)).not.toContain('Retry starting');
    disposeModels(m);
  });
});

describe('long values in a narrow sidebar', () => {
  it('are shortened in the middle, whole on hover, with a copy button', async () => {
    const fingerprint = 'SHA256:W596iyBZ6ue5gmgNNbNOYDIbrVy2e56mYJPHj4hVztI';
    expect(shortFingerprint(fingerprint)).toBe('SHA256:W596iyBZ…Hj4hVztI');
    expect(shortFingerprint('SHA256:short')).toBe('SHA256:short');
    const path = '/home/ada/miniconda3/envs/pytorch-nightly/bin/python';
    const short = shortPath(path);
    expect(short.length).toBeLessThanOrEqual(32);
    expect(short.endsWith('/bin/python')).toBe(true);
    expect(short).toContain('…');
    expect(shortPath('~/work')).toBe('~/work');
    const copy = jest.fn(() => Promise.resolve());
    const html = render(<Copyable value={fingerprint} kind="fingerprint" label="fingerprint of box" copy={copy} />);
    expect(html).toContain(`title="${fingerprint}"`);
    expect(html).toContain('aria-label="Copy fingerprint of box"');
    expect(html).not.toContain(`>${fingerprint}<`);
  });
});

/** A stub of the Review step's part of the wizard model. */
function reviewStub() {
  const noop = (): void => undefined;
  const asyncNoop = (): Promise<null> => Promise.resolve(null);
  return {
    server: 'box',
    review: { ...INITIAL_REVIEW },
    needsIpykernel: false,
    needsNewEnvironment: false,
    needsCwd: false,
    editing: null as IProfile | null,
    gpus: [] as IGpu[],
    pinnedGpus: [] as number[],
    chosenPython: '/usr/bin/python3',
    selectedEnvironment: null,
    setName: noop,
    setCwd: noop,
    setIdleTimeout: noop,
    setDisplayName: noop,
    toggleGpu: noop,
    addEnvVar: noop,
    setEnvVar: noop,
    removeEnvVar: noop,
    save: asyncNoop,
    installAndSave: asyncNoop,
    createCwdAndSave: asyncNoop,
    openCreate: noop
  };
}
