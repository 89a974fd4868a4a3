/**
 * RemoteDrive: a saved SSH server's files as a JupyterLab `Contents.IDrive`.
 *
 * Registered with the contents manager under the server's name (files/plugin
 * registers one per server), so `gpu:home/alice/proj/train.ipynb` opens in
 * JupyterLab's own editors and notebooks, saves over SFTP on the server's one
 * SSH connection, and has its checkpoints beside it on the remote. The drive
 * is rooted at the remote's `/`; the file browser opens at the home directory.
 *
 * Names that are hostile (control characters, bidi overrides, bytes that are
 * not UTF-8) come with an escaped `name` for display and their exact `path`;
 * JupyterLab's listing renames by `directory + name`, so the drive maps a
 * displayed name back to the real one it listed ({@link RemoteDrive.realPath}).
 *
 * Chunked uploads (JupyterLab's drag and drop) carry their offset, can be
 * cancelled ({@link RemoteDrive.cancelUpload}) and never leave a partial file
 * under the final name: the server writes a temporary file until the last chunk.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api/files';
import { basename, dirname, localPathOf, remotePathOf } from './paths';

/** Base64 text of `n` bytes is about 4n/3 characters: the decoded length. */
export function base64Length(text: string): number {
  const clean = text.replace(/\s+/g, '');
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  return Math.floor((clean.length * 3) / 4) - padding;
}

/** Thrown for the next chunk of an upload the user cancelled. */
export class UploadCancelled extends Error {
  constructor(path: string) {
    super(`Upload of ${basename(path)} cancelled; nothing was left on the remote.`);
    this.name = 'UploadCancelled';
  }
}

export class RemoteDrive implements Contents.IDrive {
  constructor(options: { server: string; serverSettings?: ServerConnection.ISettings }) {
    this.name = options.server;
    this.serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
  }

  /** The drive's name: the saved server's name (paths are `NAME:...`). */
  readonly name: string;
  readonly serverSettings: ServerConnection.ISettings;

  get fileChanged(): ISignal<Contents.IDrive, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** The remote's home directory, as a drive-local path (where browsing starts). */
  async home(): Promise<string> {
    const model = await api.getFile(this.name, '~', { content: false });
    return localPathOf(model.path);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const path = this.realPath(localPath);
    const model = await api.getFile(this.name, path, {
      content: options?.content ?? true,
      type: options?.type,
      // a notebook takes no format (JupyterLab asks for 'json'; Jupyter's own drive drops it)
      format: options?.type === 'notebook' ? undefined : (options?.format ?? undefined),
      hash: options?.hash ?? false
    });
    const local = this._local(model);
    if (local.type === 'directory' && Array.isArray(local.content)) {
      this._remember(local.path, local.content as Contents.IModel[]);
    }
    return local;
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return api.downloadURL(this.name, this.realPath(localPath), this.serverSettings);
  }

  async newUntitled(options: Contents.ICreateOptions = {}): Promise<Contents.IModel> {
    const model = this._local(
      await api.newUntitled(this.name, this.realPath(options.path ?? ''), options.type ?? 'file', options.ext)
    );
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  async delete(localPath: string): Promise<void> {
    const path = this.realPath(localPath);
    await api.deleteFile(this.name, path);
    this._fileChanged.emit({ type: 'delete', oldValue: { path: localPath }, newValue: null });
  }

  async rename(oldLocalPath: string, newLocalPath: string): Promise<Contents.IModel> {
    const from = this.realPath(oldLocalPath);
    const model = this._local(await api.renameFile(this.name, from, remotePathOf(newLocalPath)));
    this._fileChanged.emit({ type: 'rename', oldValue: { path: oldLocalPath }, newValue: model });
    return model;
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> = {}
  ): Promise<Contents.IModel> {
    const path = this.realPath(localPath);
    const chunk = options.chunk;
    const body: api.ISaveBody = {
      type: options.type,
      format: options.format,
      content: options.content,
      ...(chunk !== undefined ? { chunk, offset: this._chunkOffset(path, chunk) } : {})
    };
    let model: Contents.IModel;
    try {
      model = this._local(await api.saveFile(this.name, path, body));
    } catch (error) {
      this._uploads.delete(path);
      throw error;
    }
    if (chunk !== undefined && chunk !== -1) {
      this._uploads.set(path, (body.offset ?? 0) + base64Length(String(options.content ?? '')));
      return model;
    }
    this._uploads.delete(path);
    this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
    return model;
  }

  /** Where a chunk starts; refuses the chunks of a cancelled upload. */
  private _chunkOffset(path: string, chunk: number): number {
    if (this._cancelled.delete(path)) {
      void api.cancelUpload(this.name, path).catch(() => undefined);
      this._uploads.delete(path);
      throw new UploadCancelled(path);
    }
    return chunk === 1 ? 0 : (this._uploads.get(path) ?? 0);
  }

  /**
   * Cancel an upload in progress: its next chunk is refused and the server
   * removes the temporary file. Resolves when the server has let it go.
   */
  async cancelUpload(localPath: string): Promise<void> {
    const path = this.realPath(localPath);
    if (!this._uploads.has(path)) {
      this._cancelled.add(path); // not started yet: refuse its first chunk
      return;
    }
    this._cancelled.add(path);
    await api.cancelUpload(this.name, path);
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    const from = remotePathOf(this.realPath(localPath));
    const model = this._local(await api.copyFile(this.name, from, this.realPath(toLocalDir)));
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
    return api.createCheckpoint(this.name, this.realPath(localPath));
  }

  listCheckpoints(localPath: string): Promise<Contents.ICheckpointModel[]> {
    return api.listCheckpoints(this.name, this.realPath(localPath));
  }

  restoreCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    return api.restoreCheckpoint(this.name, this.realPath(localPath), checkpointID);
  }

  deleteCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    return api.deleteCheckpoint(this.name, this.realPath(localPath), checkpointID);
  }

  /**
   * The real path of a drive path built from a displayed name (JupyterLab's
   * listing renames `directory/name`): a listed entry whose escaped name was
   * shown maps back to its real name; any other path is itself.
   */
  realPath(localPath: string): string {
    const path = localPath.replace(/^\/+/, '');
    const names = this._escaped.get(dirname(path));
    return names?.get(basename(path)) ?? path;
  }

  /** A server model with its paths drive-local (the contents manager adds `NAME:`). */
  private _local(model: api.IRemoteModel): Contents.IModel {
    const local: Contents.IModel = { ...model, path: localPathOf(model.path) };
    if (Array.isArray(model.content) && model.type === 'directory') {
      return {
        ...local,
        content: (model.content as api.IRemoteModel[]).map(item => ({
          ...item,
          path: localPathOf(item.path)
        }))
      };
    }
    return local;
  }

  /** Remember which displayed names of a directory stand for other real names. */
  private _remember(directory: string, items: Contents.IModel[]): void {
    const escaped = new Map<string, string>();
    const real = new Set(items.map(item => basename(item.path)));
    for (const item of items) {
      if (item.name !== basename(item.path) && !real.has(item.name)) {
        escaped.set(item.name, item.path);
      }
    }
    if (escaped.size) {
      this._escaped.set(directory, escaped);
    } else {
      this._escaped.delete(directory);
    }
  }

  private _isDisposed = false;
  private _fileChanged = new Signal<Contents.IDrive, Contents.IChangedArgs>(this);
  private _escaped = new Map<string, Map<string, string>>();
  private _uploads = new Map<string, number>();
  private _cancelled = new Set<string>();
}
