/**
 * Launchers create where they say, also once a remote server's files were browsed.
 *
 * JupyterLab's launcher follows the local file browser: its `cwd` (shown at its
 * top) is the local folder shown, and its cards run "new notebook / console /
 * file" with that `cwd`. At the local root the `cwd` is '', and those commands
 * read '' as "no folder given" and fall back to the file browser used last:
 * after the user browsed a server in the Remote Files panel, a Notebook card of
 * a launcher at the local root created the notebook on the remote, while a
 * launcher in any local subfolder created it locally.
 *
 * A launcher's empty `cwd` is therefore pinned as '.': the same local root for
 * every launcher command (contents paths normalise '.' away; the terminal
 * server resolves '' and '.' alike) but not empty, so no command falls back to
 * another browser. It is pinned before every render, since JupyterLab sets the
 * `cwd` again (to '' at the root) each time the local browser changes folder.
 */
import { IMessageHandler, Message, MessageLoop } from '@lumino/messaging';

/** The command that makes a launcher (JupyterLab's launcher extension). */
export const LAUNCHER_CREATE = 'launcher:create';

/** The local root as a launcher's `cwd` that no command mistakes for "none". */
export const LOCAL_ROOT = '.';

/** What a launcher is to us: JupyterLab's Launcher widget, its `cwd` settable. */
export interface ILauncherLike extends IMessageHandler {
  cwd: string;
  hasClass(name: string): boolean;
}

/** The commands registry, as far as this module uses it. */
export interface ICommandsLike {
  commandExecuted: {
    connect(slot: (sender: any, args: { id: string; result: Promise<any> }) => void): boolean;
  };
}

function isLauncher(value: unknown): value is ILauncherLike {
  const widget = value as Partial<ILauncherLike> | null;
  return (
    typeof widget?.hasClass === 'function' &&
    widget.hasClass('jp-Launcher') &&
    typeof widget.cwd === 'string'
  );
}

/** The launcher `launcher:create` made (its main-area widget's content), if any. */
function launcherIn(made: unknown): ILauncherLike | null {
  const content = (made as { content?: unknown } | null)?.content;
  return isLauncher(content) ? content : isLauncher(made) ? made : null;
}

/** Pin one launcher's empty `cwd` now and before each of its renders. */
export function pinLocalRoot(launcher: ILauncherLike): void {
  const pin = (): void => {
    if (launcher.cwd === '') {
      launcher.cwd = LOCAL_ROOT;
    }
  };
  pin();
  MessageLoop.installMessageHook(launcher, (_: IMessageHandler, msg: Message): boolean => {
    if (msg.type === 'update-request') {
      pin();
    }
    return true;
  });
}

/**
 * Pin the local root of every launcher JupyterLab makes (files plugin, at start:
 * before the start-up launcher exists).
 */
export function pinLaunchersToTheirFolder(commands: ICommandsLike): void {
  commands.commandExecuted.connect((_, { id, result }) => {
    if (id !== LAUNCHER_CREATE) {
      return;
    }
    void Promise.resolve(result)
      .then(made => {
        const launcher = launcherIn(made);
        if (launcher) {
          pinLocalRoot(launcher);
        }
      })
      .catch(() => undefined);
  });
}
