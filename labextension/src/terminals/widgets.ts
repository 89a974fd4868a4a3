/**
 * Remote terminals in JupyterLab: "Terminal — gpu-box" (and "Persistent
 * terminal — gpu-box") in the launcher and the command palette for every saved
 * SSH server, each opening JupyterLab's own terminal widget
 * (@jupyterlab/terminal) on a {@link RemoteTerminalConnection}. Tabs come back
 * after a page reload (layout restorer) to the same terminal on the server,
 * which sends its screen so far; closing a tab closes the terminal for good.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, showErrorMessage, WidgetTracker } from '@jupyterlab/apputils';
import { Terminal } from '@jupyterlab/terminal';
import { terminalIcon } from '@jupyterlab/ui-components';

import { getTerminal, openTerminal } from '../api/terminals';
import { ISession } from '../events';
import { RemoteTerminalConnection } from './connection';
import { IOpenTerminalArgs, terminalCaption, terminalLabel } from './items';

export { TerminalItems, terminalCaption, terminalLabel } from './items';
export type { IOpenTerminalArgs } from './items';

export namespace RemoteTerminals {
  export interface IOptions {
    app: JupyterFrontEnd;
    /** Open (POST) and look up (GET) terminals; stand-ins in tests. */
    api?: {
      open: (server: string, persistent: boolean) => Promise<ISession>;
      get: (server: string, id: string) => Promise<ISession>;
    };
  }
}

/** The remote terminals of this page: opening, tracking and restoring their tabs. */
export class RemoteTerminals {
  constructor(options: RemoteTerminals.IOptions) {
    this._app = options.app;
    this._api = options.api ?? {
      open: (server, persistent) => openTerminal(server, { persistent }),
      get: getTerminal
    };
  }

  readonly tracker = new WidgetTracker<MainAreaWidget<Terminal>>({
    namespace: 'jupyterlab-remote-terminal'
  });

  /** The args that reopen a tab's terminal (what the layout restorer saves). */
  static argsOf(widget: MainAreaWidget<Terminal>): IOpenTerminalArgs {
    const session = widget.content.session as RemoteTerminalConnection;
    return { server: session.server, id: session.name, persistent: session.persistent };
  }

  /**
   * Open a new terminal on `server` (or, with `id`, the tab of one that runs:
   * a restored tab). Errors are shown with their hint; resolves with the tab,
   * or null when nothing was opened.
   */
  async open(args: IOpenTerminalArgs): Promise<MainAreaWidget<Terminal> | null> {
    const persistent = !!args.persistent;
    const existing = this.tracker.find(w => RemoteTerminals.argsOf(w).id === args.id);
    if (args.id && existing) {
      this._app.shell.activateById(existing.id);
      return existing;
    }
    let model: ISession;
    try {
      model = args.id
        ? await this._api.get(args.server, args.id)
        : await this._api.open(args.server, persistent);
    } catch (error) {
      if (args.id) {
        return null; // a restored tab whose terminal ended meanwhile: nothing to show
      }
      const err = error as { message?: string; hint?: string };
      void showErrorMessage(
        `Cannot open a terminal on ${args.server}`,
        [err.message ?? String(error), err.hint].filter(Boolean).join('\n\n')
      );
      return null;
    }
    return this._show(args.server, model);
  }

  private _show(server: string, model: ISession): MainAreaWidget<Terminal> {
    const persistent = !!model.persistent;
    const connection = new RemoteTerminalConnection({ server, id: model.id, persistent });
    const content = new Terminal(connection, { shutdownOnClose: true, closeOnExit: true });
    const widget = new MainAreaWidget({ content });
    widget.id = `jp-remote-terminal-${model.id}`;
    const label = terminalLabel(server, persistent);
    content.title.caption = terminalCaption(server, persistent);
    content.title.icon = terminalIcon;
    content.title.label = label;
    // the widget names itself ("Terminal term-…", or the title the remote shell sets):
    // the tab keeps saying where it runs, the shell's own title goes to the tooltip
    content.title.changed.connect(title => {
      if (title.label !== label) {
        const remote = title.label.startsWith('Terminal') ? '' : `${title.label}\n\n`;
        title.caption = remote + terminalCaption(server, persistent);
        title.label = label;
      }
    });
    widget.title.closable = true;
    this._app.shell.add(widget, 'main');
    void this.tracker.add(widget);
    this._app.shell.activateById(widget.id);
    return widget;
  }

  private _app: JupyterFrontEnd;
  private _api: NonNullable<RemoteTerminals.IOptions['api']>;
}

