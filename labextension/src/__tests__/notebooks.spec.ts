/**
 * The sidebar's "Open notebook": the new notebook goes to the profile's server,
 * in its working directory (else the home directory), never to whichever file
 * browser was used last; a Jupyter server's kernelspec opens locally.
 */
import { ServerConnection } from '@jupyterlab/services';

import { RemoteAPIError } from '../api/errors';
import {
  CREATE_NOTEBOOK,
  DirectoryChoice,
  IDirectoryQuestion,
  INotebookArgs,
  INotebookOpenerOptions,
  createDirectory,
  directoryQuestion,
  kernelPlace,
  notebookCwd,
  notebookPlace,
  openFailure,
  openNotebookOn,
  openNotebookOnKernel
} from '../sidebar/notebooks';
import { IProfile, IRemoteKernel, IServer } from '../tokens';
import { PROFILES, SERVERS } from './fixtures';

jest.mock('@jupyterlab/services', () => require('./servicesMock').servicesMock());

const makeRequest = ServerConnection.makeRequest as jest.Mock;

/** A Jupyter server reached by URL, with a kernelspec of ours that runs there. */
const JUPYTER = { ...SERVERS[0], name: 'hub', kind: 'jupyter' } as unknown as IServer;
const ON_JUPYTER: IProfile = { ...PROFILES[0], name: 'hub-py', server: 'hub', kernel_name: 'remote-hub-py' };
const IN_PROJECT: IProfile = { ...PROFILES[0], name: 'proj', cwd: '~/proj', kernel_name: 'remote-proj' };

/** The remote directories of the fake server (path -> absolute path). */
const REMOTE: Record<string, string> = {
  '~': '/home/ada',
  '~/proj': '/home/ada/proj',
  '/data': '/data'
};

function opener(overrides: Partial<INotebookOpenerOptions> = {}) {
  const executed: Array<{ command: string; args: INotebookArgs }> = [];
  const warnings: string[] = [];
  const stats: string[] = [];
  const options: INotebookOpenerOptions = {
    servers: () => [...SERVERS, JUPYTER],
    profiles: () => [...PROFILES, ON_JUPYTER, IN_PROJECT],
    execute: async (command, args) => {
      executed.push({ command, args });
    },
    localFolder: () => '',
    warn: message => warnings.push(message),
    stat: async (server, path) => {
      stats.push(`${server} ${path}`);
      if (!(path in REMOTE)) {
        throw new RemoteAPIError({ status: 404, message: `No such file or directory: ${path}` });
      }
      return { path: REMOTE[path], type: 'directory' };
    },
    ...overrides
  };
  return { options, executed, warnings, stats };
}

describe('notebookPlace', () => {
  it("is a profile's server and directory, the home directory without one", () => {
    const profiles = [...PROFILES, ON_JUPYTER];
    const servers = [...SERVERS, JUPYTER];
    expect(notebookPlace('remote-base', servers, profiles)).toEqual({
      server: 'gpu-box',
      directory: '/data',
      profile: 'base'
    });
    expect(notebookPlace('remote-torch', servers, profiles)).toEqual({
      server: 'gpu-box',
      directory: '~',
      profile: 'torch'
    });
  });

  it("is local for a Jupyter server's kernelspec and a kernelspec the catalog does not know", () => {
    const servers = [...SERVERS, JUPYTER];
    expect(notebookPlace('remote-hub-py', servers, [ON_JUPYTER])).toEqual({ server: null, directory: '' });
    expect(notebookPlace('python3', servers, PROFILES)).toEqual({ server: null, directory: '' });
  });
});

describe('openNotebookOn', () => {
  it("creates the notebook on the profile's drive, in its working directory, on its kernel", async () => {
    const { options, executed, warnings } = opener();
    await openNotebookOn('remote-proj', options);
    await openNotebookOn('remote-base', options);
    expect(executed).toEqual([
      { command: CREATE_NOTEBOOK, args: { cwd: 'gpu-box:home/ada/proj', kernelName: 'remote-proj' } },
      { command: CREATE_NOTEBOOK, args: { cwd: 'gpu-box:data', kernelName: 'remote-base' } }
    ]);
    expect(warnings).toEqual([]);
  });

  it('uses the home directory of a profile without one', async () => {
    const { options, executed, stats } = opener();
    await openNotebookOn('remote-torch', options);
    expect(stats).toEqual(['gpu-box ~']);
    expect(executed[0].args).toEqual({ cwd: 'gpu-box:home/ada', kernelName: 'remote-torch' });
  });

  it("does not follow the file browser used last: a folder is always given (never '')", async () => {
    const { options, executed } = opener({ localFolder: () => '' });
    await openNotebookOn('remote-hub-py', options);
    await openNotebookOn('python3', options);
    await openNotebookOn('remote-torch', options);
    expect(executed.map(e => e.args.cwd)).toEqual(['.', '.', 'gpu-box:home/ada']);
    expect(executed.every(e => e.args.cwd !== '')).toBe(true);
  });

  it("opens a Jupyter server's kernelspec in the local browser's folder", async () => {
    const { options, executed, stats } = opener({ localFolder: () => 'work/nb' });
    await openNotebookOn('remote-hub-py', options);
    expect(executed[0].args).toEqual({ cwd: 'work/nb', kernelName: 'remote-hub-py' });
    expect(stats).toEqual([]);
  });

  it("creates it locally, with a warning, when the profile's directory is gone (its start then says why)", async () => {
    const gone: IProfile = { ...IN_PROJECT, cwd: '/scratch/gone' };
    const { options, executed, warnings } = opener({ profiles: () => [gone], localFolder: () => 'work' });
    await openNotebookOn('remote-proj', options);
    // not elsewhere on the server: the kernel's own start fails with the reason, and Retry
    expect(executed).toEqual([{ command: CREATE_NOTEBOOK, args: { cwd: 'work', kernelName: 'remote-proj' } }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/scratch/gone on gpu-box');
    expect(warnings[0]).toContain('profile proj');
    expect(warnings[0]).toContain('No such file or directory');
    expect(warnings[0]).toContain('created locally');
  });

  it('does the same for a working directory that is a file and for a server out of reach', async () => {
    const file = opener({ stat: async () => ({ path: '/home/ada/proj', type: 'file' }) });
    await openNotebookOn('remote-proj', file.options);
    expect(file.executed[0].args).toEqual({ cwd: '.', kernelName: 'remote-proj' });
    expect(file.warnings[0]).toContain('~/proj is not a directory');

    const down = opener({
      stat: async () => {
        throw new RemoteAPIError({ status: 502, message: 'Cannot connect to gpu-box.', hint: 'Check that the host is up.' });
      }
    });
    await openNotebookOn('remote-torch', down.options);
    expect(down.executed[0].args).toEqual({ cwd: '.', kernelName: 'remote-torch' });
    expect(down.warnings[0]).toContain('in the home directory on gpu-box');
    expect(down.warnings[0]).toContain('Cannot connect to gpu-box.');
  });

  it("rejects when JupyterLab's command fails; the message carries the server's hint", async () => {
    const failing = opener({
      execute: async () => {
        throw new RemoteAPIError({ status: 403, message: 'Permission denied: /data.', hint: 'Choose a directory you can write.' });
      }
    });
    const error = await openNotebookOn('remote-base', failing.options).catch(e => e);
    expect(openFailure('remote-base', error)).toBe(
      'Could not open a notebook on remote-base: Permission denied: /data. Choose a directory you can write.'
    );
  });
});

describe("Attach's notebook: where the kernel runs", () => {
  /** A kernel as `GET remote/servers/gpu-box/kernels` lists it. */
  const RUNNING: IRemoteKernel = {
    kernel_id: 'k1aaaaaa-0000',
    state: 'running',
    server: 'gpu-box',
    profile: 'proj',
    cwd: '/home/ada/proj'
  };

  it("is the kernel's server and working directory; local for a Jupyter server's kernel", () => {
    const servers = [...SERVERS, JUPYTER];
    expect(kernelPlace('gpu-box', RUNNING, servers)).toEqual({
      server: 'gpu-box',
      directory: '/home/ada/proj',
      profile: 'proj',
      kernel: 'k1aaaaaa-0000'
    });
    // a listing without its own server or cwd: the listed server, the home directory
    const bare = kernelPlace('gpu-box', { kernel_id: 'k2', state: 'running' }, servers);
    expect([bare.server, bare.directory]).toEqual(['gpu-box', '~']);
    const hub = { kernel_id: 'k3', state: 'running', kernel_name: 'python3' };
    expect(kernelPlace('hub', hub, servers)).toEqual({ server: null, directory: '' });
    // the server asked, not the one a (hostile) remote's record names
    expect(kernelPlace('gpu-box', { ...RUNNING, server: 'cluster' }, servers).server).toBe('gpu-box');
  });

  it('creates the notebook there, on that kernel, whichever file browser was used last', async () => {
    const { options, executed, warnings } = opener({
      localFolder: () => 'work',
      stat: async (_, path) => ({ path, type: 'directory' })
    });
    await openNotebookOnKernel('k1aaaaaa-0000', kernelPlace('gpu-box', RUNNING, options.servers()), options);
    expect(executed).toEqual([
      { command: CREATE_NOTEBOOK, args: { cwd: 'gpu-box:home/ada/proj', kernelId: 'k1aaaaaa-0000' } }
    ]);
    expect(warnings).toEqual([]);
  });

  it('creates it locally on the kernel, with a warning, when its directory is unusable', async () => {
    const { options, executed, warnings } = opener({ localFolder: () => 'work' });
    const gone = { ...RUNNING, cwd: '/scratch/gone' };
    await openNotebookOnKernel('k1aaaaaa-0000', kernelPlace('gpu-box', gone, options.servers()), options);
    expect(executed).toEqual([{ command: CREATE_NOTEBOOK, args: { cwd: 'work', kernelId: 'k1aaaaaa-0000' } }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/scratch/gone on gpu-box, where kernel k1aaaaaa runs');
    expect(warnings[0]).toContain('No such file or directory');
    expect(warnings[0]).not.toContain('Retry');
  });
});

describe('notebookCwd over REST', () => {
  it("asks the server's files route for the directory, without content", async () => {
    makeRequest.mockResolvedValueOnce(
      new Response(JSON.stringify({ name: 'proj', path: '/home/ada/proj', type: 'directory', content: null }), {
        status: 200
      })
    );
    const cwd = await notebookCwd(
      { server: 'gpu-box', directory: '~/proj', profile: 'proj' },
      { localFolder: () => '', warn: () => undefined }
    );
    expect(cwd).toBe('gpu-box:home/ada/proj');
    const url = String(makeRequest.mock.calls[0][0]);
    expect(url).toContain('remote/servers/gpu-box/files/~/proj');
    expect(url).toContain('content=0');
  });
});

describe('a hostile remote (review s22 F2): no request leaves the remote files', () => {
  const HOSTILE_HOMES = ['/../../../../../api/shutdown', '/home/../../api/shutdown', 'api/shutdown', '/a//b', '/a/./b', '/a/'];

  it.each(HOSTILE_HOMES)('a home answered as %s gives a local notebook and a warning', async home => {
    makeRequest.mockClear();
    makeRequest.mockResolvedValueOnce(
      new Response(JSON.stringify({ name: 'x', path: home, type: 'directory', content: null }), { status: 200 })
    );
    const warnings: string[] = [];
    const cwd = await notebookCwd(
      { server: 'gpu-box', directory: '~', profile: 'torch' },
      { localFolder: () => 'work', warn: message => warnings.push(message) }
    );
    expect(cwd).toBe('work');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('not a normalized absolute path');
    expect(makeRequest).toHaveBeenCalledTimes(1); // the stat, nothing else
  });

  it("Attach on a kernel whose cwd has '..' sends nothing at all (not even the stat)", async () => {
    makeRequest.mockClear();
    const warnings: string[] = [];
    const hostile = { kernel_id: 'k9aaaaaa-0000', state: 'running', cwd: 'a/../../../other/files/~' } as IRemoteKernel;
    const place = kernelPlace('gpu-box', hostile, SERVERS);
    const cwd = await notebookCwd(place, { localFolder: () => '', warn: message => warnings.push(message) });
    expect(cwd).toBe('.');
    expect(makeRequest).not.toHaveBeenCalled();
    expect(warnings[0]).toContain('".." segment');
  });

  it('a well-formed home is used as it is', async () => {
    const { options, executed, warnings } = opener({ stat: async () => ({ path: '/', type: 'directory' }) });
    await openNotebookOn('remote-torch', options);
    expect(executed[0].args.cwd).toBe('gpu-box:');
    expect(warnings).toEqual([]);
  });
});

describe("a profile's directory gone or out of reach: the user chooses (s23)", () => {
  const GONE: IProfile = { ...IN_PROJECT, cwd: '/scratch/gone' };

  /** An opener whose dialog answers `choice`, recording the questions and what was done. */
  function choosing(choice: DirectoryChoice, overrides: Partial<INotebookOpenerOptions> = {}) {
    const questions: IDirectoryQuestion[] = [];
    const edited: string[] = [];
    const created: string[] = [];
    const made = new Set<string>();
    const base = opener({
      profiles: () => [...PROFILES, GONE],
      localFolder: () => 'work',
      stat: async (_, path) => {
        if (!made.has(path) && !(path in REMOTE)) {
          throw new RemoteAPIError({ status: 404, message: `No such file or directory: ${path}` });
        }
        return { path: made.has(path) ? path : REMOTE[path], type: 'directory' };
      },
      ask: async question => {
        questions.push(question);
        return choice;
      },
      editProfile: profile => edited.push(profile.name),
      createDirectory: async (place, profile) => {
        created.push(`${place.server} ${place.directory} ${profile?.name ?? '-'}`);
        made.add(place.directory);
      },
      ...overrides
    });
    return { ...base, questions, edited, created };
  }

  it('asks, offering Create it, Edit profile and Open locally (and Cancel)', async () => {
    const { options, questions } = choosing('cancel');
    await openNotebookOn('remote-proj', options);
    expect(questions).toHaveLength(1);
    expect(questions[0].title).toBe('Directory not found');
    expect(questions[0].body).toContain('There is no /scratch/gone on gpu-box');
    expect(questions[0].body).toContain('profile proj');
    expect(questions[0].actions.map(a => a.label)).toEqual(['Create it', 'Edit profile', 'Open locally']);
    expect(questions[0].actions[0].ariaLabel).toBe('Create /scratch/gone on gpu-box');
  });

  it('Create it: the directory is made on the server, then the notebook opens there', async () => {
    const { options, executed, created, warnings } = choosing('create');
    await openNotebookOn('remote-proj', options);
    expect(created).toEqual(['gpu-box /scratch/gone proj']);
    expect(executed).toEqual([
      { command: CREATE_NOTEBOOK, args: { cwd: 'gpu-box:scratch/gone', kernelName: 'remote-proj' } }
    ]);
    expect(warnings).toEqual([]);
  });

  it('Create it that fails rejects with the reason (shown as the open failure), no notebook', async () => {
    const { options, executed } = choosing('create', {
      createDirectory: async () => {
        throw new RemoteAPIError({ status: 403, message: 'Permission denied: /scratch.', hint: 'Choose another directory.' });
      }
    });
    const error = await openNotebookOn('remote-proj', options).catch(e => e);
    expect(openFailure('remote-proj', error)).toBe(
      'Could not open a notebook on remote-proj: Permission denied: /scratch. Choose another directory.'
    );
    expect(executed).toEqual([]);
  });

  it("Edit profile: the sidebar's profile editor opens on that profile, no notebook", async () => {
    const { options, executed, edited, warnings } = choosing('edit');
    await openNotebookOn('remote-proj', options);
    expect(edited).toEqual(['proj']);
    expect(executed).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("Open locally: today's local notebook, in the local browser's folder", async () => {
    const { options, executed, created, edited } = choosing('local');
    await openNotebookOn('remote-proj', options);
    expect(executed).toEqual([{ command: CREATE_NOTEBOOK, args: { cwd: 'work', kernelName: 'remote-proj' } }]);
    expect([created, edited]).toEqual([[], []]);
  });

  it('Cancel: nothing is opened, created or edited', async () => {
    const { options, executed, created, edited, warnings } = choosing('cancel');
    await openNotebookOn('remote-proj', options);
    expect([executed, created, edited, warnings]).toEqual([[], [], [], []]);
  });

  it('a server out of reach: no Create it; the reason and its hint are in the question', async () => {
    const { options, questions, executed } = choosing('local', {
      stat: async () => {
        throw new RemoteAPIError({ status: 502, message: 'Cannot connect to gpu-box.', hint: 'Check that the host is up.' });
      }
    });
    await openNotebookOn('remote-proj', options);
    expect(questions[0].title).toBe('Directory out of reach');
    expect(questions[0].body).toContain('Cannot connect to gpu-box. Check that the host is up.');
    expect(questions[0].actions.map(a => a.choice)).toEqual(['edit', 'local']);
    expect(executed[0].args.cwd).toBe('work');
  });

  it('no Edit profile for an admin profile, nor for an attached kernel (whose notebook is on the kernel)', () => {
    const gone = new RemoteAPIError({ status: 404, message: 'No such file or directory' });
    const place = { server: 'gpu-box', directory: '/scratch/gone', profile: 'proj' };
    const admin = directoryQuestion(place, gone, { ...GONE, readonly: true });
    expect(admin.actions.map(a => a.choice)).toEqual(['create', 'local']);
    const attached = directoryQuestion({ ...place, kernel: 'k1aaaaaa-0000' }, gone, undefined);
    expect(attached.actions.map(a => a.choice)).toEqual(['create', 'local']);
    expect(attached.body).toContain('where kernel k1aaaaaa runs');
    expect(attached.actions[1].ariaLabel).toBe('Open a local notebook on that kernel');
    // the home directory gone is not for us to make
    expect(directoryQuestion({ ...place, directory: '~' }, gone, GONE).actions.map(a => a.choice)).toEqual([
      'edit',
      'local'
    ]);
  });

  it("Attach: Create it makes the kernel's directory, then the notebook opens there on the kernel", async () => {
    const { options, executed, created } = choosing('create');
    const place = kernelPlace('gpu-box', { kernel_id: 'k1aaaaaa-0000', state: 'running', cwd: '/scratch/gone' }, SERVERS);
    await openNotebookOnKernel('k1aaaaaa-0000', place, options);
    expect(created).toEqual(['gpu-box /scratch/gone -']);
    expect(executed).toEqual([
      { command: CREATE_NOTEBOOK, args: { cwd: 'gpu-box:scratch/gone', kernelId: 'k1aaaaaa-0000' } }
    ]);
  });

  it('a file, or a hostile answer, is not asked about: local with a warning as before', async () => {
    const { options, questions, executed, warnings } = choosing('create', {
      stat: async () => ({ path: '/home/../../api/shutdown', type: 'directory' })
    });
    await openNotebookOn('remote-proj', options);
    expect(questions).toEqual([]);
    expect(executed[0].args.cwd).toBe('work');
    expect(warnings[0]).toContain('not a normalized absolute path');
  });
});

describe('createDirectory over REST', () => {
  const PLACE = { server: 'gpu-box', directory: '/scratch/gone', profile: 'proj' };
  const answer = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });

  it("an editable profile's: its create_cwd PATCH (as the wizard's Create), nothing else changed", async () => {
    makeRequest.mockClear();
    makeRequest.mockResolvedValueOnce(answer({ ...IN_PROJECT, cwd: '/scratch/gone' }));
    await createDirectory(PLACE, { ...IN_PROJECT, cwd: '/scratch/gone' });
    const [url, init] = makeRequest.mock.calls[0];
    expect(String(url)).toContain('remote/profiles/proj?create_cwd=1');
    expect(init.method).toBe('PATCH');
    expect(JSON.parse(init.body)).toEqual({});
  });

  it("an attached kernel's or an admin profile's: the drive's mkdir (PUT, type directory)", async () => {
    for (const profile of [undefined, { ...IN_PROJECT, readonly: true }]) {
      makeRequest.mockClear();
      makeRequest.mockResolvedValueOnce(answer({ name: 'gone', path: '/scratch/gone', type: 'directory' }));
      await createDirectory({ ...PLACE, kernel: profile ? undefined : 'k1' }, profile);
      const [url, init] = makeRequest.mock.calls[0];
      expect(String(url)).toContain('remote/servers/gpu-box/files/scratch/gone');
      expect(init.method).toBe('PUT');
      expect(JSON.parse(init.body)).toEqual({ type: 'directory' });
    }
  });
});
