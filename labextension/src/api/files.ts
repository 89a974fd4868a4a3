/**
 * A server's files (`remote/servers/{name}/files/...` and its siblings): Jupyter's
 * contents models over SFTP. Paths are drive-local (no leading slash: the
 * remote's `/` is the drive's root) and encoded byte for byte (files/paths.ts).
 */
import { Contents, ServerConnection } from '@jupyterlab/services';

import { encodeRemotePath, unsafePathReason } from '../files/paths';
import { API_NAMESPACE } from '../tokens';
import { joinURL, jsonInit, requestAPI, seg, UnsafePathError } from './requests';

/** A contents model as the server sends it (Jupyter's, plus our fields). */
export interface IRemoteModel extends Contents.IModel {
  /** The name is a symbolic link (type and size are its target's). */
  symlink?: boolean;
  /** A listing stopped at the server's limit. */
  truncated?: boolean;
}

/**
 * The path every files request of this module takes: throws, sending nothing, when
 * the path has a `.`, `..` or empty segment (the browser would resolve them and the
 * request, with the user's token, could leave `servers/NAME/files/`).
 */
function route(kind: string, server: string, localPath: string): string {
  const why = unsafePathReason(localPath);
  if (why !== null) {
    throw new UnsafePathError(`Refusing the remote path ${JSON.stringify(localPath)} of ${server}: ${why}.`);
  }
  const path = encodeRemotePath(localPath.replace(/^\/+/, '').replace(/\/+$/, ''));
  return `servers/${seg(server)}/${kind}` + (path ? `/${path}` : '');
}

/** What to fetch: Jupyter's fetch options. */
export interface IGetOptions {
  content?: boolean;
  type?: Contents.ContentType;
  format?: Contents.FileFormat;
  /** With the sha256 of a file's bytes (what JupyterLab compares before a save). */
  hash?: boolean;
}

/** GET files/PATH: a directory with its entries, a notebook or a file. */
export async function getFile(
  server: string,
  localPath: string,
  options: IGetOptions = {}
): Promise<IRemoteModel> {
  const query = new URLSearchParams();
  if (options.content === false) {
    query.set('content', '0');
  }
  if (options.type) {
    query.set('type', options.type);
  }
  if (options.format) {
    query.set('format', options.format);
  }
  if (options.hash) {
    query.set('hash', '1');
  }
  const q = query.toString();
  return requestAPI<IRemoteModel>(route('files', server, localPath) + (q ? `?${q}` : ''), {
    method: 'GET'
  });
}

/** A model to save, with the upload fields the server understands. */
export interface ISaveBody extends Partial<Contents.IModel> {
  /** Chunked uploads: the byte this chunk starts at (the server checks it). */
  offset?: number;
}

/** PUT files/PATH: save a model (or one chunk of an upload). */
export async function saveFile(server: string, localPath: string, body: ISaveBody): Promise<IRemoteModel> {
  return requestAPI<IRemoteModel>(route('files', server, localPath), jsonInit('PUT', body));
}

/** POST files/DIR: a new untitled notebook, file or directory. */
export async function newUntitled(
  server: string,
  localDir: string,
  type: Contents.ContentType,
  ext?: string
): Promise<IRemoteModel> {
  return requestAPI<IRemoteModel>(route('files', server, localDir), jsonInit('POST', { type, ext }));
}

/** POST files/DIR {copy_from}: copy a file into DIR (name-Copy1.ext). */
export async function copyFile(server: string, fromRemote: string, localDir: string): Promise<IRemoteModel> {
  return requestAPI<IRemoteModel>(
    route('files', server, localDir),
    jsonInit('POST', { copy_from: fromRemote })
  );
}

/** PATCH files/PATH {path}: rename or move (never over an existing file). */
export async function renameFile(server: string, localPath: string, newRemote: string): Promise<IRemoteModel> {
  return requestAPI<IRemoteModel>(route('files', server, localPath), jsonInit('PATCH', { path: newRemote }));
}

/** DELETE files/PATH: a file, a symlink or a directory with its contents. */
export async function deleteFile(server: string, localPath: string): Promise<void> {
  await requestAPI<void>(route('files', server, localPath), { method: 'DELETE' });
}

/** DELETE uploads/PATH: cancel a chunked upload (its temporary file is removed). */
export async function cancelUpload(server: string, localPath: string): Promise<boolean> {
  const answer = await requestAPI<{ cancelled: boolean }>(route('uploads', server, localPath), {
    method: 'DELETE'
  });
  return answer?.cancelled ?? false;
}

/** GET checkpoints/PATH. */
export async function listCheckpoints(server: string, localPath: string): Promise<Contents.ICheckpointModel[]> {
  return requestAPI<Contents.ICheckpointModel[]>(route('checkpoints', server, localPath), { method: 'GET' });
}

/** POST checkpoints/PATH: checkpoint the file as it is on the remote now. */
export async function createCheckpoint(server: string, localPath: string): Promise<Contents.ICheckpointModel> {
  return requestAPI<Contents.ICheckpointModel>(route('checkpoints', server, localPath), { method: 'POST' });
}

/** POST checkpoints/PATH?restore=ID. */
export async function restoreCheckpoint(server: string, localPath: string, id: string): Promise<void> {
  const endPoint = `${route('checkpoints', server, localPath)}?restore=${encodeURIComponent(id)}`;
  await requestAPI<void>(endPoint, { method: 'POST' });
}

/** DELETE checkpoints/PATH?id=ID. */
export async function deleteCheckpoint(server: string, localPath: string, id: string): Promise<void> {
  const endPoint = `${route('checkpoints', server, localPath)}?id=${encodeURIComponent(id)}`;
  await requestAPI<void>(endPoint, { method: 'DELETE' });
}

/**
 * The URL of a file's bytes as a download (never rendered on Jupyter's origin),
 * with the `_xsrf` cookie's value as JupyterLab's own drive adds it.
 */
export function downloadURL(
  server: string,
  localPath: string,
  settings: Pick<ServerConnection.ISettings, 'baseUrl'> = ServerConnection.makeSettings(),
  cookie: string = typeof document !== 'undefined' ? document.cookie : ''
): string {
  const url = joinURL(settings.baseUrl, API_NAMESPACE, route('download', server, localPath));
  const xsrf = cookie.match('\\b_xsrf=([^;]*)\\b');
  return xsrf ? `${url}?_xsrf=${encodeURIComponent(xsrf[1])}` : url;
}
