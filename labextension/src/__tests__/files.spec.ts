/**
 * Remote files: path encoding, the drive (against a mocked HTTP layer), the
 * preferred kernel of a remote document, upload progress with Cancel.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { deleteFile, downloadURL, getFile, newUntitled, saveFile } from '../api/files';
import { UnsafePathError } from '../api/requests';
import { RemoteDrive, UploadCancelled, base64Length } from '../files/drive';
import { preferredKernel } from '../files/kernels';
import { driveOf, encodeRemotePath, isNormalizedAbsolute, localPathOf, remotePathOf } from '../files/paths';
import { localOf, trackUploads } from '../files/uploads';
import { fileServers, profileRoots } from '../files/roots';
import { IProfile, IServer } from '../tokens';

jest.mock('@jupyterlab/services', () => require('./servicesMock').servicesMock());

const makeRequest = ServerConnection.makeRequest as jest.Mock;

function respond(status: number, body: unknown): void {
  makeRequest.mockResolvedValueOnce(
    new Response(status === 204 ? null : JSON.stringify(body), { status })
  );
}

function sent(call = 0): { url: string; method: string; body: any } {
  const [url, init] = makeRequest.mock.calls[call];
  return { url, method: init.method, body: init.body ? JSON.parse(init.body) : undefined };
}

beforeEach(() => makeRequest.mockReset());

describe('paths', () => {
  it('encodes remote names byte for byte', () => {
    expect(encodeRemotePath('home/a b/x#1?.txt')).toBe('home/a%20b/x%231%3F.txt');
    expect(encodeRemotePath('caf\udce9.txt')).toBe('caf%E9.txt'); // not UTF-8: the raw byte
    expect(encodeRemotePath('café/✓')).toBe('caf%C3%A9/%E2%9C%93');
    expect(encodeRemotePath('esc\u001b[1m')).toBe('esc%1B%5B1m');
    expect(() => encodeRemotePath('bad\ud800')).toThrow(/not valid text/);
  });

  it('maps drive paths to remote paths and back', () => {
    expect(remotePathOf('home/a/x')).toBe('/home/a/x');
    expect(remotePathOf('')).toBe('/');
    expect(localPathOf('/home/a/x')).toBe('home/a/x');
    expect(driveOf('gpu:home/a/x.ipynb')).toBe('gpu');
    expect(driveOf('local/x.ipynb')).toBe('');
    expect(driveOf('dir/a:b')).toBe('');
  });

  it('knows a normalized absolute path', () => {
    for (const good of ['/', '/home/ada', '/a/..b/c.', '/...']) {
      expect(isNormalizedAbsolute(good)).toBe(true);
    }
    for (const bad of ['', 'home/ada', '/../api', '/a/../b', '/a/.', '/a//b', '/a/', '//a', '~']) {
      expect(isNormalizedAbsolute(bad)).toBe(false);
    }
  });

  it('counts base64 bytes', () => {
    expect(base64Length(btoa('abcd'))).toBe(4);
    expect(base64Length(btoa('abcde'))).toBe(5);
    expect(base64Length(btoa('abcdef'))).toBe(6);
  });
});

describe('route: no files request leaves remote/servers/NAME/files (review s22 F2)', () => {
  const HOSTILE = ['../../../../api/shutdown', 'home/../../api', 'home/ada/..', './x', 'home/./x', 'home//x', '~/../../api'];

  it.each(HOSTILE)('%s is refused before anything is sent', async path => {
    await expect(getFile('gpu', path, { content: false })).rejects.toThrow(UnsafePathError);
    await expect(newUntitled('gpu', path, 'notebook')).rejects.toThrow(/"\." or "\.\." segment|empty segment/);
    await expect(saveFile('gpu', path, { type: 'file', format: 'text', content: '' })).rejects.toThrow(UnsafePathError);
    await expect(deleteFile('gpu', path)).rejects.toThrow(UnsafePathError);
    expect(() => downloadURL('gpu', path, { baseUrl: 'http://localhost:8888/' }, '')).toThrow(UnsafePathError);
    expect(makeRequest).not.toHaveBeenCalled();
  });

  it('names with dots that are no dot segments go through', async () => {
    respond(201, { path: '/home/..a/...', type: 'notebook' });
    await newUntitled('gpu', 'home/..a/...', 'notebook');
    expect(sent().url).toBe('http://localhost:8888/base/remote/servers/gpu/files/home/..a/...');
    respond(200, { path: '/home/ada', type: 'directory' });
    await getFile('gpu', '~');
    expect(sent(1).url).toBe('http://localhost:8888/base/remote/servers/gpu/files/~');
  });
});

describe('RemoteDrive', () => {
  const listing = {
    name: 'a',
    path: '/home/a',
    type: 'directory',
    content: [
      { name: 'plain.txt', path: '/home/a/plain.txt', type: 'file' },
      { name: 'esc\\x1b.txt', path: '/home/a/esc\u001b.txt', type: 'file' }
    ]
  };

  it('lists with drive-local paths and renames hostile names by their real path', async () => {
    const drive = new RemoteDrive({ server: 'gpu' });
    respond(200, listing);
    const model = await drive.get('home/a');
    expect(sent().url).toBe('http://localhost:8888/base/remote/servers/gpu/files/home/a');
    expect(model.path).toBe('home/a');
    expect((model.content as any[]).map(c => c.path)).toEqual([
      'home/a/plain.txt',
      'home/a/esc\u001b.txt'
    ]);
    // JupyterLab's listing renames "directory/displayed name"
    respond(200, { name: 'b.txt', path: '/home/a/b.txt', type: 'file' });
    const changed: any[] = [];
    drive.fileChanged.connect((_, args) => changed.push(args));
    await drive.rename('home/a/esc\\x1b.txt', 'home/a/b.txt');
    expect(sent(1).url).toBe('http://localhost:8888/base/remote/servers/gpu/files/home/a/esc%1B.txt');
    expect(sent(1).body).toEqual({ path: '/home/a/b.txt' });
    expect(changed[0].type).toBe('rename');
  });

  it('sends chunk offsets, and a cancelled upload stops at its next chunk', async () => {
    const drive = new RemoteDrive({ server: 'gpu' });
    const file = { name: 'f', path: '/home/a/f', type: 'file' };
    const chunk = { type: 'file' as const, format: 'base64' as const, content: btoa('x'.repeat(300)) };
    respond(200, file);
    await drive.save('home/a/f', { ...chunk, chunk: 1 });
    respond(200, file);
    await drive.save('home/a/f', { ...chunk, chunk: 2 });
    expect(sent(0).body.offset).toBe(0);
    expect(sent(1).body.offset).toBe(300);
    respond(200, { cancelled: true });
    await drive.cancelUpload('home/a/f');
    expect(sent(2)).toMatchObject({ method: 'DELETE' });
    expect(sent(2).url).toContain('/remote/servers/gpu/uploads/home/a/f');
    respond(200, { cancelled: false });
    await expect(drive.save('home/a/f', { ...chunk, chunk: -1 })).rejects.toBeInstanceOf(
      UploadCancelled
    );
    expect(makeRequest.mock.calls.map(c => c[1].method)).toEqual(['PUT', 'PUT', 'DELETE', 'DELETE']);
  });

  it('saves notebooks and reports the save', async () => {
    const drive = new RemoteDrive({ server: 'gpu' });
    const saved: any[] = [];
    drive.fileChanged.connect((_, args) => saved.push(args));
    respond(200, { name: 'n.ipynb', path: '/home/a/n.ipynb', type: 'notebook' });
    const model = await drive.save('home/a/n.ipynb', { type: 'notebook', format: 'json', content: {} });
    expect(model.path).toBe('home/a/n.ipynb');
    expect(sent().body).toEqual({ type: 'notebook', format: 'json', content: {} });
    expect(saved[0]).toMatchObject({ type: 'save' });
  });

  it("asks for a notebook without a format, as Jupyter's own drive does", async () => {
    const drive = new RemoteDrive({ server: 'gpu' });
    respond(200, { name: 'n.ipynb', path: '/home/a/n.ipynb', type: 'notebook', content: {} });
    await drive.get('home/a/n.ipynb', { type: 'notebook', format: 'json', content: true, hash: true });
    expect(sent().url).toBe('http://localhost:8888/base/remote/servers/gpu/files/home/a/n.ipynb?type=notebook&hash=1');
  });

  it('turns an error answer into a rejection with the server message', async () => {
    const drive = new RemoteDrive({ server: 'gpu' });
    respond(409, { message: 'Permission denied on the remote', reason: 'permission_denied', hint: 'h' });
    await expect(drive.get('root/x')).rejects.toThrow(/Permission denied/);
  });

  it('builds download URLs with the _xsrf value', () => {
    const settings = { baseUrl: 'http://h/base/' };
    expect(downloadURL('gpu', 'home/a/f x', settings, 'a=1; _xsrf=tok%3D; b=2')).toBe(
      'http://h/base/remote/servers/gpu/download/home/a/f%20x?_xsrf=tok%253D'
    );
    expect(downloadURL('gpu', 'home/f', settings, '')).toBe(
      'http://h/base/remote/servers/gpu/download/home/f'
    );
  });
});

describe('preferredKernel', () => {
  const profile = (name: string, server: string): IProfile =>
    ({ name, server, kernel_name: `remote-${name}` }) as IProfile;
  const profiles = [profile('torch', 'gpu'), profile('base', 'gpu'), profile('cpu', 'cpu-box')];
  const drives = new Set(['gpu', 'cpu-box']);

  it("prefers the server's own profile for a document on its drive", () => {
    expect(preferredKernel('gpu:home/a/x.ipynb', 'python3', profiles, drives)).toBe('remote-base');
    expect(preferredKernel('gpu:home/a/x.ipynb', undefined, profiles, drives)).toBe('remote-base');
  });

  it('keeps a profile of the same server, and leaves local documents alone', () => {
    expect(preferredKernel('gpu:home/a/x.ipynb', 'remote-torch', profiles, drives)).toBeNull();
    expect(preferredKernel('x.ipynb', 'python3', profiles, drives)).toBeNull();
    expect(preferredKernel('other:x.ipynb', 'python3', profiles, drives)).toBeNull();
    expect(preferredKernel('gpu:x.ipynb', 'python3', [], drives)).toBeNull();
  });
});

describe('trackUploads', () => {
  it('shows progress with Cancel, and says a cancelled upload left nothing', async () => {
    const uploadChanged = new Signal<any, any>({});
    const cancelled: string[] = [];
    const drive = { name: 'gpu', cancelUpload: async (p: string) => void cancelled.push(p) };
    const emitted: any[] = [];
    const updates: any[] = [];
    const notify = {
      emit: jest.fn((message: string, type: string, options: any) => {
        emitted.push({ message, type, options });
        return 'n1';
      }),
      update: jest.fn((args: any) => {
        updates.push(args);
        return true;
      })
    };
    trackUploads({ uploadChanged } as any, drive, notify as any);
    const up = { path: 'gpu:home/a/big.bin', progress: 0 };
    uploadChanged.emit({ name: 'start', newValue: up, oldValue: null });
    expect(emitted[0]).toMatchObject({ type: 'in-progress', message: 'Uploading big.bin on gpu' });
    uploadChanged.emit({ name: 'update', newValue: { ...up, progress: 0.5 }, oldValue: up });
    expect(updates[0]).toMatchObject({ id: 'n1', progress: 0.5, type: 'in-progress' });
    emitted[0].options.actions[0].callback({} as MouseEvent);
    expect(cancelled).toEqual(['home/a/big.bin']);
    uploadChanged.emit({ name: 'failure', newValue: up, oldValue: null });
    expect(updates[1].type).toBe('info');
    expect(updates[1].message).toMatch(/Cancelled the upload of big.bin on gpu; nothing was left/);
    expect(localOf('gpu:home/x', 'gpu')).toBe('home/x');
  });
});

describe('roots', () => {
  it('offers SSH servers only, and the working directories of their profiles', () => {
    const servers = [
      { name: 'gpu' },
      { name: 'hub', kind: 'jupyter' },
      { name: 'box', kind: 'ssh' }
    ] as unknown as IServer[];
    expect(fileServers(servers)).toEqual(['box', 'gpu']);
    const profiles = [
      { name: 'a', server: 'gpu', cwd: '~/b' },
      { name: 'b', server: 'gpu', cwd: '/scratch/a' },
      { name: 'c', server: 'gpu', cwd: null },
      { name: 'd', server: 'box', cwd: '~' }
    ] as unknown as IProfile[];
    expect(profileRoots(profiles)).toEqual(
      new Map([
        ['gpu', ['/scratch/a', '~/b']],
        ['box', ['~']]
      ])
    );
  });
});
