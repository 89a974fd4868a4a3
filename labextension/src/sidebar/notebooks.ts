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
 * server. When the server said why (gone: 404; out of reach: 502), the user
 * chooses ({@link directoryQuestion}, asked with JupyterLab's dialog by
 * `directoryDialog.ts`): "Create it" (the profile's `create_cwd` PATCH, as the
 * wizard's Create; the drive's mkdir for an attached kernel or an admin profile),
 * then the notebook opens there; "Edit profile" (the sidebar's profile editor);
 * "Open locally"; or Cancel. Otherwise (a file, a hostile answer) the notebook is
 * local (as for a Jupyter server) and a warning says why; a kernel whose start then
 * fails says the reason on its session card, whose Retry starts it in that
 * notebook once the directory is back.
 *
 * "Attach … and open a notebook on it" (a kernel found running on a server) puts
 * its notebook in the same way where that kernel runs: the listing's server and
 * `cwd` ({@link kernelPlace}), local with a warning if that directory is unusable.
 */
import { RemoteAPIError } from '../api/errors';
import { getFile, saveFile } from '../api/files';
import { updateProfile } from '../api/profiles';
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
  /**
   * Ask what to do when the directory is gone or out of reach (index.ts: a dialog,
   * `directoryDialog.ts`). Without it: a local notebook and a warning.
   */
  ask?: (question: IDirectoryQuestion) => Promise<DirectoryChoice>;
  /** Open the sidebar's editor of a profile ("Edit profile"). */
  editProfile?: (profile: IProfile) => void;
  /** Make the directory on the server ("Create it"); default {@link createDirectory}. */
  createDirectory?: (place: INotebookPlace, profile: IProfile | undefined) => Promise<void>;
}

/** What {@link notebookCwd} needs: the opener's options; `profiles` for "Edit profile". */
export type ICwdOptions = Pick<
  INotebookOpenerOptions,
  'localFolder' | 'warn' | 'stat' | 'ask' | 'editProfile' | 'createDirectory'
> &
  Partial<Pick<INotebookOpenerOptions, 'profiles'>>;

/** The user's answer to a {@link IDirectoryQuestion}. */
export type DirectoryChoice = 'create' | 'edit' | 'local' | 'cancel';

/** One action of a {@link IDirectoryQuestion} (Cancel is always there besides them). */
export interface IDirectoryAction {
  choice: Exclude<DirectoryChoice, 'cancel'>;
  label: string;
  ariaLabel: string;
}

/** The question asked when a new notebook's directory is gone or out of reach. */
export interface IDirectoryQuestion {
  title: string;
  body: string;
  /** The actions offered, in order. */
  actions: IDirectoryAction[];
}

/**
 * The question when `place`'s directory could not be used and the server said why
 * (`error`): "Create it" only when it is gone (404, not the home directory), "Edit
 * profile" only for an editable profile's notebook, "Open locally" always (pure).
 */
export function directoryQuestion(
  place: INotebookPlace,
  error: RemoteAPIError,
  profile: IProfile | undefined
): IDirectoryQuestion {
  const gone = error.status === 404;
  const directory = place.directory === '~' ? 'the home directory' : place.directory;
  const server = place.server ?? '';
  const whose = place.kernel
    ? `where kernel ${place.kernel.slice(0, 8)} runs`
    : `the working directory of profile ${place.profile ?? ''}`;
  const why = `${error.message}${error.hint ? ` ${error.hint}` : ''}`;
  const actions: IDirectoryAction[] = [];
  if (gone && place.directory !== '~') {
    actions.push({ choice: 'create', label: 'Create it', ariaLabel: `Create ${place.directory} on ${server}` });
  }
  if (profile && !profile.readonly) {
    actions.push({ choice: 'edit', label: 'Edit profile', ariaLabel: `Edit profile ${profile.name}` });
  }
  const local = place.kernel ? 'a local notebook on that kernel' : 'a local notebook';
  actions.push({ choice: 'local', label: 'Open locally', ariaLabel: `Open ${local}` });
  return {
    title: gone ? 'Directory not found' : 'Directory out of reach',
    body:
      `${gone ? 'There is no' : 'Cannot reach'} ${directory} on ${server}, ${whose} (${why}). ` +
      `Open locally makes ${local}.`,
    actions
  };
}

/**
 * "Create it": the profile's `create_cwd` PATCH (what the wizard's Create and
 * `profile edit --create-cwd` do: parents too, with the login's umask) for an
 * editable profile's notebook; else (an attached kernel's directory, an admin
 * profile) the drive's mkdir (`PUT files/PATH`, type directory).
 */
export async function createDirectory(place: INotebookPlace, profile: IProfile | undefined): Promise<void> {
  if (profile && !profile.readonly && !place.kernel) {
    await updateProfile(profile.name, {}, { createCwd: true });
  } else {
    await saveFile(place.server ?? '', place.directory, { type: 'directory' });
  }
}

/**
 * The `cwd` for `notebook:create-new`: `SERVER:drive/path`, or a local folder;
 * null when the user chose not to open a notebook now (Cancel, Edit profile).
 */
export async function notebookCwd(place: INotebookPlace, options: ICwdOptions): Promise<string | null> {
  const local = options.localFolder() || LOCAL_ROOT;
  if (!place.server) {
    return local;
  }
  try {
    return await serverCwd(place.server, place.directory, options.stat);
  } catch (error) {
    if (!options.ask || !(error instanceof RemoteAPIError)) {
      options.warn(unusableDirectory(place, error));
      return local;
    }
    return chosenCwd(place, error, local, options);
  }
}

/** `SERVER:drive/path` of `directory`, after the server said it is a directory there. */
async function serverCwd(server: string, directory: string, stat: ICwdOptions['stat']): Promise<string> {
  const model = await (stat ?? ((s: string, p: string) => getFile(s, p, { content: false })))(server, directory);
  if (model.type !== 'directory') {
    throw new Error(`${directory} is not a directory.`);
  }
  if (!isNormalizedAbsolute(model.path)) {
    // A hostile remote's home `/../../api/shutdown`: JupyterLab would POST there.
    throw new Error(`the server answered ${JSON.stringify(model.path)}, not a normalized absolute path`);
  }
  return `${server}:${localPathOf(model.path)}`;
}

/** Called by {@link notebookCwd} when the server said why: the user's choice, done. */
async function chosenCwd(
  place: INotebookPlace,
  error: RemoteAPIError,
  local: string,
  options: ICwdOptions
): Promise<string | null> {
  const profile = place.kernel
    ? undefined
    : options.profiles?.().find(p => p.name === place.profile && p.server === place.server);
  const choice = await options.ask!(directoryQuestion(place, error, profile));
  if (choice === 'local') {
    return local;
  }
  if (choice === 'create') {
    await (options.createDirectory ?? createDirectory)(place, profile);
    return serverCwd(place.server ?? '', place.directory, options.stat);
  }
  if (choice === 'edit' && profile) {
    options.editProfile?.(profile);
  }
  return null;
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
 * Rejects when JupyterLab's command does, or a chosen "Create it" fails.
 */
export async function openNotebookOn(kernelName: string, options: INotebookOpenerOptions): Promise<void> {
  const place = notebookPlace(kernelName, options.servers(), options.profiles());
  const cwd = await notebookCwd(place, options);
  if (cwd !== null) {
    await options.execute(CREATE_NOTEBOOK, { cwd, kernelName });
  }
}

/**
 * A new notebook on the running kernel `kernelId` (the sidebar's Attach, after
 * the attach), in `place` ({@link kernelPlace}). Rejects when JupyterLab's
 * command does, or a chosen "Create it" fails.
 */
export async function openNotebookOnKernel(
  kernelId: string,
  place: INotebookPlace,
  options: ICwdOptions & Pick<INotebookOpenerOptions, 'execute'>
): Promise<void> {
  const cwd = await notebookCwd(place, options);
  if (cwd !== null) {
    await options.execute(CREATE_NOTEBOOK, { cwd, kernelId });
  }
}

/** The text of a failed {@link openNotebookOn}, with the server's hint. */
export function openFailure(kernelName: string, error: unknown): string {
  const hint = error instanceof RemoteAPIError && error.hint ? ` ${error.hint}` : '';
  const why = error instanceof Error ? error.message : String(error);
  return `Could not open a notebook on ${kernelName}: ${why}${hint}`;
}
