/**
 * Where the sidebar's and the wizard's "Open notebook" creates the notebook.
 *
 * JupyterLab's `notebook:create-new` given no `cwd` creates in the file browser
 * used last: a profile's notebook landed locally if the local browser was used
 * last, or on whichever server the Remote Files panel showed last. The new
 * notebook now goes where its kernel runs:
 * - a profile of an SSH server: on that server's drive, in the profile's working
 *   directory (its `cwd`, else the home directory). It is saved on the server,
 *   and its kernel (the profile's) runs in that directory, the notebook's;
 * - anything else (a kernelspec of a Jupyter server reached by URL, whose files
 *   are not ours to browse; a kernelspec the catalog does not know): locally, in
 *   the folder the local file browser shows (its root pinned as '.', which no
 *   command mistakes for "no folder given").
 * A profile's directory that cannot be used (removed since the profile was
 * saved, a file, the server unreachable) puts no notebook elsewhere on the
 * server: the notebook is local (as for a Jupyter server), a warning says why,
 * and the kernel's start fails with the reason on its session card, whose
 * Retry starts it in that notebook once the directory is back.
 *
 * "Attach … and open a notebook on it" (a kernel found running on a server) puts
 * its notebook in the same way where that kernel runs: the listing's server and
 * `cwd` ({@link kernelPlace}), local with a warning if that directory is unusable.
 */
import { RemoteAPIError } from '../api/errors';
import { getFile } from '../api/files';
import { LOCAL_ROOT } from '../files/launchers';
import { isNormalizedAbsolute, localPathOf } from '../files/paths';
import { fileServers } from '../files/roots';
import type { IProfile, IRemoteKernel, IServer } from '../rest';

/** JupyterLab's command that makes a new notebook (notebook-extension). */
export const CREATE_NOTEBOOK = 'notebook:create-new';

/** Where a new notebook of a kernelspec goes: a server's directory, or local. */
export interface INotebookPlace {
  /** The SSH server (its drive's name), or null: local. */
  server: string | null;
  /** On the server: absolute or `~`-relative, as a profile's `cwd`. */
  directory: string;
  /** The profile, on a server (named in the warning when its directory is unusable). */
  profile?: string;
  /** A running kernel's id (Attach): the notebook opens on it, it already runs there. */
  kernel?: string;
}

/** The arguments of `notebook:create-new`: always a folder, and a kernelspec or a kernel. */
export interface INotebookArgs {
  cwd: string;
  kernelName?: string;
  kernelId?: string;
}

/** The place of a new notebook on kernelspec `kernelName` (pure). */
export function notebookPlace(
  kernelName: string,
  servers: readonly IServer[],
  profiles: readonly IProfile[]
): INotebookPlace {
  const profile = profiles.find(p => p.kernel_name === kernelName);
  if (!profile || !fileServers(servers).includes(profile.server)) {
    return { server: null, directory: '' };
  }
  return { server: profile.server, directory: profile.cwd || '~', profile: profile.name };
}

/**
 * The place of a new notebook on `kernel`, from the kernel listing of `server`
 * (pure): that server's drive, in the kernel's working directory; local for a
 * Jupyter server's kernel (files not ours to browse). The server is the one
 * asked, never the `server` the remote's record names: a hostile remote cannot
 * send the notebook to another of the user's servers.
 */
export function kernelPlace(server: string, kernel: IRemoteKernel, servers: readonly IServer[]): INotebookPlace {
  if (!fileServers(servers).includes(server)) {
    return { server: null, directory: '' };
  }
  return { server, directory: kernel.cwd || '~', profile: kernel.profile, kernel: kernel.kernel_id };
}

/** What {@link openNotebookOn} needs (index.ts wires JupyterLab's pieces). */
export interface INotebookOpenerOptions {
  servers: () => readonly IServer[];
  profiles: () => readonly IProfile[];
  /** Run a JupyterLab command (`app.commands.execute`). */
  execute: (command: string, args: INotebookArgs) => Promise<unknown>;
  /** The folder the local file browser shows ('' at its root). */
  localFolder: () => string;
  /** Say why the profile's directory is not used (the notebook is then local). */
  warn: (message: string) => void;
  /** A remote path's model without content; default the files REST call. */
  stat?: (server: string, path: string) => Promise<{ path: string; type: string }>;
}

/** The `cwd` for `notebook:create-new`: `SERVER:drive/path`, or a local folder. */
export async function notebookCwd(
  place: INotebookPlace,
  options: Pick<INotebookOpenerOptions, 'localFolder' | 'warn' | 'stat'>
): Promise<string> {
  const local = options.localFolder() || LOCAL_ROOT;
  if (!place.server) {
    return local;
  }
  const server = place.server;
  const stat = options.stat ?? ((s: string, p: string) => getFile(s, p, { content: false }));
  try {
    const model = await stat(server, place.directory);
    if (model.type !== 'directory') {
      throw new Error(`${place.directory} is not a directory.`);
    }
    if (!isNormalizedAbsolute(model.path)) {
      // A hostile remote's home `/../../api/shutdown`: JupyterLab would POST there.
      throw new Error(`the server answered ${JSON.stringify(model.path)}, not a normalized absolute path`);
    }
    return `${server}:${localPathOf(model.path)}`;
  } catch (error) {
    options.warn(unusableDirectory(place, error));
    return local;
  }
}

/** Why a notebook is created locally, not in `place`'s directory on its server. */
function unusableDirectory(place: INotebookPlace, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  const directory = place.directory === '~' ? 'the home directory' : place.directory;
  const where = `${directory} on ${place.server ?? ''}`;
  if (place.kernel) {
    return (
      `Cannot open a notebook in ${where}, where kernel ${place.kernel.slice(0, 8)} runs (${why}): ` +
      'the notebook is created locally, on that kernel, which still runs in its own directory.'
    );
  }
  return (
    `Cannot open a notebook in ${where} for profile ${place.profile ?? ''} ` +
    `(${why}): the notebook is created locally. If its kernel cannot start, its card in ` +
    'the Remote sidebar says why and offers Retry.'
  );
}

/**
 * A new notebook on kernelspec `kernelName`, where its kernel runs (the
 * sidebar's and the wizard's "Open notebook", the Retry of a failed start).
 * Rejects only when JupyterLab's command does.
 */
export async function openNotebookOn(kernelName: string, options: INotebookOpenerOptions): Promise<void> {
  const place = notebookPlace(kernelName, options.servers(), options.profiles());
  const cwd = await notebookCwd(place, options);
  await options.execute(CREATE_NOTEBOOK, { cwd, kernelName });
}

/**
 * A new notebook on the running kernel `kernelId` (the sidebar's Attach, after
 * the attach), in `place` ({@link kernelPlace}). Rejects only when JupyterLab's
 * command does.
 */
export async function openNotebookOnKernel(
  kernelId: string,
  place: INotebookPlace,
  options: Pick<INotebookOpenerOptions, 'execute' | 'localFolder' | 'warn' | 'stat'>
): Promise<void> {
  const cwd = await notebookCwd(place, options);
  await options.execute(CREATE_NOTEBOOK, { cwd, kernelId });
}

/** The text of a failed {@link openNotebookOn}, with the server's hint. */
export function openFailure(kernelName: string, error: unknown): string {
  const hint = error instanceof RemoteAPIError && error.hint ? ` ${error.hint}` : '';
  const why = error instanceof Error ? error.message : String(error);
  return `Could not open a notebook on ${kernelName}: ${why}${hint}`;
}
