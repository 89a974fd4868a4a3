/**
 * WizardModel: Connect (unknown / changed host keys), Environment (grouping,
 * selection, custom path, ipykernel install), Review (validation, save,
 * ipykernel_missing), Back/Next.
 */
import { RemoteAPIError } from '../api';
import { IEnvironment, IProfile, ITestResult } from '../tokens';
import { CatalogModel } from '../catalog/model';
import {
  envKey,
  groupEnvironments,
  suggestProfileName,
  validateReview,
  WizardModel
} from '../wizard';
import { fakeCatalogAPI } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

const RESULT: ITestResult = {
  server: 'box',
  endpoint: 'ada@[127.0.0.1]:2222',
  reachable: true,
  auth: 'ok',
  auth_method: 'key',
  host_key: { type: 'ssh-ed25519', fingerprint: 'SHA256:abc', status: 'trusted', source: 'jupyter-remote' },
  connect_ms: 40,
  rtt_ms: 1.5,
  os: 'Debian GNU/Linux 12',
  python: { path: '/usr/bin/python3', version: '3.11.2' }
};

const ENVS: IEnvironment[] = [
  {
    python: '/usr/bin/python3',
    kind: 'system',
    name: 'system',
    version: '3.11.2',
    ipykernel: false,
    path: '/usr'
  },
  {
    python: '/home/ada/miniconda3/envs/torch/bin/python',
    kind: 'conda',
    name: 'torch',
    version: '3.11.9',
    ipykernel: true,
    path: '/home/ada/miniconda3/envs/torch'
  },
  {
    python: '/home/ada/venv/bin/python',
    kind: 'venv',
    name: 'venv',
    version: '3.12.1',
    ipykernel: true,
    path: '/home/ada/venv'
  },
  {
    python: '/usr/bin/R',
    kind: 'kernelspec',
    name: 'ir',
    version: '',
    ipykernel: false,
    path: '/usr/share/jupyter/kernels/ir',
    display_name: 'R',
    language: 'R'
  }
];

function unknownKey(): RemoteAPIError {
  return new RemoteAPIError({
    status: 409,
    message: 'The host key of [127.0.0.1]:2222 is not trusted yet',
    reason: 'hostkey_unknown',
    hint: 'Compare the fingerprint',
    details: {
      reason: 'hostkey_unknown',
      host_id: '[127.0.0.1]:2222',
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:abc'
    }
  });
}

function changedKey(): RemoteAPIError {
  return new RemoteAPIError({
    status: 409,
    message: 'WARNING: the host key has CHANGED',
    reason: 'hostkey_changed',
    hint: 'jupyter remote hostkey remove [127.0.0.1]:2222',
    details: {
      host_id: '[127.0.0.1]:2222',
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:new',
      known_fingerprints: ['SHA256:old']
    }
  });
}

function profileOf(input: { name: string; server: string }): IProfile {
  return {
    name: input.name,
    server: input.server,
    python: '/home/ada/miniconda3/envs/torch/bin/python',
    kernelspec: null,
    cwd: null,
    env: {},
    idle_timeout: 0,
    display_name: 'Python 3.11 · torch — box',
    readonly: false,
    kernel_name: `remote-${input.name}`
  };
}

function makeWizard(api: Partial<WizardModel.IAPI> = {}, options: Partial<WizardModel.IOptions> = {}) {
  const calls = {
    testServer: jest.fn(() => Promise.resolve(RESULT)),
    trustHostKey: jest.fn(() => Promise.resolve({})),
    listEnvironments: jest.fn(() => Promise.resolve(ENVS)),
    installIpykernel: jest.fn(
      async (_s: string, _p: string, onOutput: (line: string) => void) => {
        onOutput('Collecting ipykernel');
        onOutput('Successfully installed ipykernel-6.29.5');
      }
    ),
    addProfile: jest.fn((input: { name: string; server: string }) =>
      Promise.resolve(profileOf(input))
    ),
    ...api
  };
  const onProfileSaved = jest.fn();
  const onHostKeyTrusted = jest.fn();
  const wizard = new WizardModel({
    server: 'box',
    api: calls as unknown as WizardModel.IAPI,
    onProfileSaved,
    onHostKeyTrusted,
    now: () => 1000,
    ...options
  });
  return { wizard, calls, onProfileSaved, onHostKeyTrusted };
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('helpers', () => {
  it('groups environments by kind in a fixed order', () => {
    const groups = groupEnvironments([
      ...ENVS,
      { ...ENVS[0], kind: 'exotic', python: '/x' }
    ]);
    expect(groups.map(g => g.kind)).toEqual(['conda', 'venv', 'system', 'kernelspec', 'exotic']);
    expect(groups[0].label).toBe('Conda environments');
    expect(groups[4].label).toBe('exotic');
  });

  it('keys kernelspecs apart from their python', () => {
    expect(envKey(ENVS[3])).toBe('kernelspec:ir');
    expect(envKey(ENVS[0])).toBe('python:/usr/bin/python3');
  });

  it('suggests a free, valid profile name', () => {
    expect(suggestProfileName('gpu box', ENVS[1])).toBe('gpu-box-torch');
    expect(suggestProfileName('box', { name: '', version: '3.11' })).toBe('box-py3.11');
    expect(suggestProfileName('box', null, ['box-custom'])).toBe('box-custom-2');
    expect(suggestProfileName('box', null, ['box-custom', 'box-custom-2'])).toBe('box-custom-3');
  });
});

describe('WizardModel connect', () => {
  it('tests the server; Next is enabled once connected', async () => {
    const { wizard, calls } = makeWizard();
    expect(wizard.step).toBe('connect');
    expect(wizard.canGoNext).toBe(false);
    const pending = wizard.start();
    expect(wizard.connect.status).toBe('testing');
    expect(wizard.connect.startedAt).toBe(1000);
    await pending;
    expect(calls.testServer).toHaveBeenCalledWith('box');
    expect(wizard.connect.status).toBe('ok');
    expect(wizard.connect.result).toEqual(RESULT);
    expect(wizard.blocker).toBe('');
    expect(wizard.canGoNext).toBe(true);
    expect(wizard.canGoBack).toBe(false);
  });

  it('an unknown key offers Trust with its fingerprint, then tests again', async () => {
    const { wizard, calls, onHostKeyTrusted } = makeWizard({
      testServer: jest
        .fn()
        .mockRejectedValueOnce(unknownKey())
        .mockResolvedValueOnce(RESULT)
    });
    await wizard.start();
    expect(wizard.connect.status).toBe('hostkey_unknown');
    expect(wizard.connect.unknown).toMatchObject({
      key_type: 'ssh-ed25519',
      fingerprint: 'SHA256:abc',
      host_id: '[127.0.0.1]:2222'
    });
    expect(wizard.canGoNext).toBe(false);
    await wizard.trust();
    expect(calls.trustHostKey).toHaveBeenCalledWith('box', 'SHA256:abc');
    expect(onHostKeyTrusted).toHaveBeenCalled();
    expect(calls.testServer).toHaveBeenCalledTimes(2);
    expect(wizard.connect.status).toBe('ok');
  });

  it('Cancel on an unknown key trusts nothing', async () => {
    const { wizard, calls } = makeWizard({ testServer: jest.fn().mockRejectedValue(unknownKey()) });
    await wizard.start();
    wizard.cancelTrust();
    expect(wizard.connect.status).toBe('cancelled');
    expect(calls.trustHostKey).not.toHaveBeenCalled();
    expect(wizard.canGoNext).toBe(false);
  });

  it('a failed trust keeps the prompt with the error', async () => {
    const { wizard } = makeWizard({
      testServer: jest.fn().mockRejectedValue(unknownKey()),
      trustHostKey: jest.fn().mockRejectedValue(
        new RemoteAPIError({ status: 400, message: 'fingerprint mismatch', reason: 'invalid' })
      )
    });
    await wizard.start();
    await wizard.trust();
    expect(wizard.connect.status).toBe('hostkey_unknown');
    expect(wizard.connect.error?.message).toBe('fingerprint mismatch');
  });

  it('a changed key can never be trusted from the wizard', async () => {
    const { wizard, calls } = makeWizard({ testServer: jest.fn().mockRejectedValue(changedKey()) });
    await wizard.start();
    expect(wizard.connect.status).toBe('hostkey_changed');
    expect(wizard.connect.changed).toMatchObject({
      fingerprint: 'SHA256:new',
      known_fingerprints: ['SHA256:old']
    });
    await wizard.trust();
    expect(calls.trustHostKey).not.toHaveBeenCalled();
    expect(wizard.connect.status).toBe('hostkey_changed');
    wizard.next();
    expect(wizard.step).toBe('connect');
  });

  it('a key that changed between prompt and trust turns into the warning', async () => {
    const { wizard } = makeWizard({
      testServer: jest.fn().mockRejectedValue(unknownKey()),
      trustHostKey: jest.fn().mockRejectedValue(changedKey())
    });
    await wizard.start();
    await wizard.trust();
    expect(wizard.connect.status).toBe('hostkey_changed');
  });

  it('other failures keep message and hint for the Retry box', async () => {
    const { wizard } = makeWizard({
      testServer: jest.fn().mockRejectedValue(
        new RemoteAPIError({
          status: 502,
          message: 'Connection refused',
          reason: 'unreachable',
          hint: 'Check that sshd runs'
        })
      )
    });
    await wizard.start();
    expect(wizard.connect.status).toBe('error');
    expect(wizard.connect.error).toMatchObject({
      message: 'Connection refused',
      hint: 'Check that sshd runs',
      status: 502
    });
  });
});

async function toEnvironment(api: Partial<WizardModel.IAPI> = {}) {
  const made = makeWizard(api);
  await made.wizard.start();
  made.wizard.next();
  await flush();
  return made;
}

describe('WizardModel environment', () => {
  it('loads on entry and preselects the first usable Python', async () => {
    const { wizard, calls } = await toEnvironment();
    expect(wizard.step).toBe('environment');
    expect(calls.listEnvironments).toHaveBeenCalledWith('box', { refresh: false });
    expect(wizard.environment.status).toBe('ok');
    expect(wizard.environment.selected).toBe(envKey(ENVS[1]));
    expect(wizard.chosenPython).toBe(ENVS[1].python);
    expect(wizard.groups.map(g => g.kind)).toEqual(['conda', 'venv', 'system', 'kernelspec']);
    expect(wizard.canGoNext).toBe(true);
  });

  it('Refresh probes again and keeps the selection', async () => {
    const { wizard, calls } = await toEnvironment();
    wizard.select(envKey(ENVS[2]));
    await wizard.loadEnvironments(true);
    expect(calls.listEnvironments).toHaveBeenLastCalledWith('box', { refresh: true });
    expect(wizard.environment.selected).toBe(envKey(ENVS[2]));
  });

  it('an environment without ipykernel blocks Next with a reason', async () => {
    const { wizard } = await toEnvironment();
    wizard.select(envKey(ENVS[0]));
    expect(wizard.canGoNext).toBe(false);
    expect(wizard.blocker).toMatch(/no ipykernel/);
  });

  it('a custom path must be absolute', async () => {
    const { wizard } = await toEnvironment();
    wizard.setCustomPath('python3');
    expect(wizard.environment.useCustom).toBe(true);
    expect(wizard.blocker).toMatch(/absolute/);
    wizard.setCustomPath('~/venv/bin/python');
    expect(wizard.canGoNext).toBe(true);
    expect(wizard.chosenPython).toBe('~/venv/bin/python');
    wizard.setUseCustom(false);
    expect(wizard.chosenPython).toBe(ENVS[1].python);
  });

  it('a listing error is kept for the Retry box', async () => {
    const { wizard } = await toEnvironment({
      listEnvironments: jest.fn().mockRejectedValue(
        new RemoteAPIError({ status: 504, message: 'timed out', reason: 'timeout', hint: 'retry' })
      )
    });
    expect(wizard.environment.status).toBe('error');
    expect(wizard.environment.error).toMatchObject({ reason: 'timeout', hint: 'retry' });
    expect(wizard.canGoNext).toBe(false);
  });

  it('Install ipykernel streams pip output, then lists again (refresh)', async () => {
    const { wizard, calls } = await toEnvironment();
    const seen: number[] = [];
    wizard.changed.connect(() => seen.push(wizard.environment.install?.lines.length ?? -1));
    const ok = await wizard.installIpykernel('/usr/bin/python3');
    expect(ok).toBe(true);
    expect(calls.installIpykernel).toHaveBeenCalledWith('box', '/usr/bin/python3', expect.any(Function));
    expect(wizard.environment.install).toMatchObject({
      python: '/usr/bin/python3',
      status: 'done',
      lines: ['Collecting ipykernel', 'Successfully installed ipykernel-6.29.5']
    });
    expect(seen).toContain(1); // lines arrived one by one
    expect(calls.listEnvironments).toHaveBeenLastCalledWith('box', { refresh: true });
  });

  it('a failed install keeps the output and the error', async () => {
    const { wizard } = await toEnvironment({
      installIpykernel: jest.fn(async (_s: string, _p: string, onOutput: (l: string) => void) => {
        onOutput('error: externally-managed-environment');
        throw new RemoteAPIError({ status: 200, message: 'pip failed', reason: 'remote_command_failed' });
      })
    });
    expect(await wizard.installIpykernel('/usr/bin/python3')).toBe(false);
    expect(wizard.environment.install).toMatchObject({
      status: 'error',
      lines: ['error: externally-managed-environment']
    });
    expect(wizard.environment.install?.error?.message).toBe('pip failed');
  });
});

async function toReview(api: Partial<WizardModel.IAPI> = {}, options: Partial<WizardModel.IOptions> = {}) {
  const made = makeWizard(api, options);
  await made.wizard.start();
  made.wizard.next();
  await flush();
  made.wizard.next();
  return made;
}

describe('WizardModel review and Start', () => {
  it('suggests a name, goes back and forth, and saves the profile', async () => {
    const { wizard, calls, onProfileSaved } = await toReview({}, { takenNames: ['box-torch'] });
    expect(wizard.step).toBe('review');
    expect(wizard.review.name).toBe('box-torch-2');
    wizard.back();
    expect(wizard.step).toBe('environment');
    wizard.next();
    wizard.setName('gpu');
    wizard.setCwd('/data/ada');
    wizard.addEnvVar();
    wizard.setEnvVar(0, { key: 'CUDA_VISIBLE_DEVICES', value: '0' });
    wizard.addEnvVar(); // an empty row is ignored
    wizard.setIdleTimeout(3600);
    const profile = await wizard.save();
    expect(profile?.kernel_name).toBe('remote-gpu');
    expect(calls.addProfile).toHaveBeenCalledWith(
      expect.objectContaining({
        name: 'gpu',
        server: 'box',
        python: ENVS[1].python,
        cwd: '/data/ada',
        env: { CUDA_VISIBLE_DEVICES: '0' },
        idle_timeout: 3600,
        display_name: null
      }),
      {}
    );
    expect(wizard.review.status).toBe('saved');
    expect(onProfileSaved).toHaveBeenCalledWith(profile);
    expect(wizard.canGoBack).toBe(true);
  });

  it('validates name, cwd and variables before asking the server', async () => {
    const { wizard, calls } = await toReview();
    wizard.setName('bad name!');
    wizard.setCwd('relative/dir');
    wizard.addEnvVar();
    wizard.setEnvVar(0, { key: '1BAD', value: 'x' });
    expect(await wizard.save()).toBeNull();
    expect(calls.addProfile).not.toHaveBeenCalled();
    expect(Object.keys(wizard.review.fieldErrors).sort()).toEqual(['cwd', 'env', 'name']);
    wizard.setName('ok');
    expect(wizard.review.fieldErrors.name).toBeUndefined();
    wizard.setEnvVar(0, { key: 'A' });
    wizard.addEnvVar();
    wizard.setEnvVar(1, { key: 'A', value: 'y' });
    expect(validateReview(wizard.review).env).toMatch(/twice/);
    wizard.removeEnvVar(1);
    wizard.setCwd('~');
    expect(validateReview(wizard.review)).toEqual({});
  });

  it('puts a 400 field error and a name conflict at their field', async () => {
    const { wizard } = await toReview({
      addProfile: jest
        .fn()
        .mockRejectedValueOnce(
          new RemoteAPIError({
            status: 400,
            message: 'cwd must be an absolute path',
            reason: 'invalid',
            field: 'cwd'
          })
        )
        .mockRejectedValueOnce(
          new RemoteAPIError({ status: 409, message: "A profile named 'x' already exists.", reason: 'conflict' })
        )
    });
    await wizard.save();
    expect(wizard.review.fieldErrors).toEqual({ cwd: 'cwd must be an absolute path' });
    expect(wizard.review.status).toBe('error');
    await wizard.save();
    expect(wizard.review.fieldErrors).toEqual({ name: "A profile named 'x' already exists." });
  });

  it('ipykernel_missing offers install-and-start', async () => {
    const addProfile = jest
      .fn()
      .mockRejectedValueOnce(
        new RemoteAPIError({ status: 409, message: 'ipykernel is not installed', reason: 'ipykernel_missing' })
      )
      .mockImplementation((input: { name: string; server: string }) => Promise.resolve(profileOf(input)));
    const { wizard, calls } = await toReview({ addProfile });
    await wizard.save();
    expect(wizard.needsIpykernel).toBe(true);
    const profile = await wizard.installAndSave();
    expect(calls.installIpykernel).toHaveBeenCalledWith('box', ENVS[1].python, expect.any(Function));
    expect(profile).not.toBeNull();
    expect(wizard.review.status).toBe('saved');
  });

  it('a kernelspec entry becomes a kernelspec profile', async () => {
    const { wizard, calls } = await toReview();
    wizard.back();
    wizard.select('kernelspec:ir');
    wizard.next();
    await wizard.save();
    expect((calls.addProfile as jest.Mock).mock.calls[0][0]).toMatchObject({ kernelspec: 'ir' });
    expect((calls.addProfile as jest.Mock).mock.calls[0][0]).not.toHaveProperty('python');
  });

  it('emits nothing after dispose', async () => {
    const { wizard } = makeWizard();
    const seen = jest.fn();
    wizard.changed.connect(seen);
    wizard.dispose();
    expect(wizard.isDisposed).toBe(true);
    await wizard.runTest();
    expect(seen).not.toHaveBeenCalled();
  });
});

describe('WizardModel through the catalog', () => {
  it('trusts and saves through the catalog: its keys and profiles update, its names are taken', async () => {
    const catalogAPI = fakeCatalogAPI();
    const catalog = new CatalogModel({ api: catalogAPI });
    await catalog.refresh();
    let profilesChanged = 0;
    catalog.profilesChanged.connect(() => profilesChanged++);
    const unknown = new RemoteAPIError({
      status: 409,
      message: 'unknown key',
      reason: 'hostkey_unknown',
      details: { host_id: '[h]:22', key_type: 'ssh-ed25519', fingerprint: 'SHA256:abc' }
    });
    const wizard = new WizardModel({
      server: 'gpu-box',
      catalog,
      api: {
        testServer: jest.fn().mockRejectedValueOnce(unknown).mockResolvedValue(RESULT),
        listEnvironments: jest.fn(() => Promise.resolve(ENVS))
      }
    });
    await wizard.start();
    expect(wizard.connect.status).toBe('hostkey_unknown');
    const keysListed = catalogAPI.listHostKeys.mock.calls.length;
    await wizard.trust();
    expect(catalogAPI.trustHostKey).toHaveBeenCalledWith('gpu-box', 'SHA256:abc');
    expect(catalogAPI.listHostKeys.mock.calls.length).toBe(keysListed + 1);
    expect(wizard.connect.status).toBe('ok');
    wizard.next();
    await flush();
    wizard.select(envKey(ENVS[1]));
    wizard.next();
    wizard.setName('torch'); // taken in the catalog: the server says so
    catalogAPI.addProfile.mockRejectedValueOnce(
      new RemoteAPIError({ status: 409, message: "A profile named 'torch' already exists.", reason: 'conflict' })
    );
    await wizard.save();
    expect(wizard.review.fieldErrors.name).toMatch(/already exists/);
    wizard.setName('gpu-torch');
    const profile = await wizard.save();
    expect(profile?.name).toBe('gpu-torch');
    expect(catalog.profile('gpu-torch')).not.toBeNull();
    expect(profilesChanged).toBe(1);
    wizard.dispose();
    catalog.dispose();
  });

  it("suggests a name the catalog's profiles do not use", async () => {
    const catalog = new CatalogModel({
      api: fakeCatalogAPI({
        listProfiles: jest.fn(() =>
          Promise.resolve([{ ...profileOf({ name: 'box-torch', server: 'box' }) }])
        )
      })
    });
    await catalog.refresh();
    const wizard = new WizardModel({
      server: 'box',
      catalog,
      api: {
        testServer: jest.fn(() => Promise.resolve(RESULT)),
        listEnvironments: jest.fn(() => Promise.resolve(ENVS))
      }
    });
    await wizard.start();
    wizard.next();
    await flush();
    wizard.next();
    expect(wizard.review.name).toBe('box-torch-2');
    wizard.dispose();
    catalog.dispose();
  });
});
