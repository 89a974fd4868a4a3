/**
 * A notebook of a remote drive prefers a kernel of that server.
 *
 * JupyterLab picks a document's kernel from its session context's kernel
 * preference (the notebook's metadata sets its name just before the session
 * starts). For a document whose path is on a server's drive, the preference
 * becomes that server's profile: the one the notebook names if it is a
 * profile of the server, else the server's first profile. The kernel picker
 * then offers it first, and opening the notebook starts it, so the notebook
 * runs where it lives (with its own directory as working directory: the
 * server side sees the document's path).
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { IDocumentWidgetOpener } from '@jupyterlab/docmanager';

import type { IProfile } from '../rest';
import { driveOf } from './paths';

/** The kernelspec a document at `path` should prefer instead of `current`, or null. */
export function preferredKernel(
  path: string,
  current: string | undefined,
  profiles: readonly IProfile[],
  drives: ReadonlySet<string>
): string | null {
  const server = driveOf(path);
  if (!server || !drives.has(server)) {
    return null;
  }
  const own = profiles
    .filter(p => p.server === server)
    .map(p => p.kernel_name)
    .sort();
  if (!own.length || (current && own.includes(current))) {
    return null;
  }
  return own[0];
}

/** Apply {@link preferredKernel} to a session context now and whenever it changes. */
export function preferServerKernel(
  sessionContext: ISessionContext,
  profiles: () => readonly IProfile[],
  drives: ReadonlySet<string>
): void {
  const apply = (): void => {
    const preference = sessionContext.kernelPreference;
    const name = preferredKernel(sessionContext.path, preference.name, profiles(), drives);
    if (name) {
      sessionContext.kernelPreference = { ...preference, name, language: undefined };
    }
  };
  apply();
  sessionContext.kernelPreferenceChanged.connect(apply);
}

/** Every document opened from now on (files/plugin.ts). */
export function preferServerKernels(
  opener: IDocumentWidgetOpener,
  profiles: () => readonly IProfile[],
  drives: ReadonlySet<string>
): void {
  opener.opened.connect((_, widget) => {
    const sessionContext = widget.context?.sessionContext;
    if (sessionContext) {
      preferServerKernel(sessionContext, profiles, drives);
    }
  });
}
