/**
 * jupyterlab-remote frontend: plugins only, wiring the modules named after
 * their job (catalog/, sessions/, sidebar/, wizard/) into JupyterLab.
 *
 * - `jupyterlab-remote:catalog` provides ICatalogModel (servers, profiles, host keys)
 * - `jupyterlab-remote:sessions` provides ISessionsModel (live sessions)
 * - `jupyterlab-remote:kernelspecs` refreshes the kernel picker when profiles change
 * - `jupyterlab-remote:notices` shows the sessions' notices as notifications
 * - `jupyterlab-remote:plugin` the sidebar, the connect wizards and the commands
 * - `jupyterlab-remote:terminals` terminals on the servers (launcher, palette, tabs)
 * - `jupyterlab-remote:files` the servers' files: a drive each, the Remote Files panel
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDocumentWidgetOpener } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser, IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { terminalIcon } from '@jupyterlab/ui-components';

import { refreshKernelspecsOnChange } from './catalog/kernelspecs';
import { activateFiles } from './files/plugin';
import { CatalogModel } from './catalog/model';
import { SessionsModel } from './sessions/model';
import { IActivityContext, KernelActivity } from './sessions/activity';
import { notifyNotices } from './sessions/notices';
import { addCommands, openSecurity, retryStart } from './sidebar/commands';
import { askWithDialog } from './sidebar/directoryDialog';
import { kernelPlace, openFailure, openNotebookOn, openNotebookOnKernel } from './sidebar/notebooks';
import { RemotePanel } from './sidebar/panel';
import {
  IOpenTerminalArgs,
  RemoteTerminals,
  TerminalItems,
  terminalCaption,
  terminalLabel
} from './terminals/widgets';
import { CommandIDs, ICatalogModel, IProfile, IRemoteKernel, ISessionsModel, PLUGIN_ID } from './tokens';
import { WizardTabs } from './wizard/tabs';

/** Rank in the left area: after the stock panels (file browser is 100). */
const SIDEBAR_RANK = 600;

/** How long a notice's notification shows before it stays only in the notification list. */
const NOTICE_TOAST_MS = 10 * 1000;

const catalogPlugin: JupyterFrontEndPlugin<ICatalogModel> = {
  id: 'jupyterlab-remote:catalog',
  description: 'Saved remote servers, their profiles and trusted host keys.',
  autoStart: true,
  provides: ICatalogModel,
  activate: (): ICatalogModel => new CatalogModel()
};

const sessionsPlugin: JupyterFrontEndPlugin<ISessionsModel> = {
  id: 'jupyterlab-remote:sessions',
  description: 'Remote sessions, kept live from the remote/events websocket.',
  autoStart: true,
  provides: ISessionsModel,
  optional: [ILabShell],
  activate: (app: JupyterFrontEnd, labShell: ILabShell | null): ISessionsModel => {
    const activity = new KernelActivity();
    const sessions = new SessionsModel({ kernels: app.serviceManager.kernels, activity });
    sessions.connectEvents();
    followMainArea(app, labShell, activity);
    return sessions;
  }
};

/**
 * The cards' live activity: follow the kernel of every notebook and console of
 * the main area (their session contexts), as widgets open.
 */
function followMainArea(app: JupyterFrontEnd, labShell: ILabShell | null, activity: KernelActivity): void {
  const scan = (): void => {
    for (const widget of app.shell.widgets('main')) {
      const context = (widget as unknown as { sessionContext?: IActivityContext }).sessionContext;
      if (context?.statusChanged && context.iopubMessage) {
        activity.watch(context);
      }
    }
  };
  labShell?.layoutModified.connect(scan);
  void app.restored.then(scan);
}

const kernelspecsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-remote:kernelspecs',
  description: 'Refreshes the launcher and kernel picker when remote profiles are added or removed.',
  autoStart: true,
  requires: [ICatalogModel],
  activate: (app: JupyterFrontEnd, catalog: ICatalogModel): void => {
    refreshKernelspecsOnChange(catalog, app.serviceManager.kernelspecs);
  }
};

const noticesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-remote:notices',
  description: 'Shows what happened to remote kernels (e.g. output dropped while offline) as notifications.',
  autoStart: true,
  requires: [ISessionsModel],
  activate: (_: JupyterFrontEnd, sessions: ISessionsModel): void => {
    notifyNotices(sessions, text => Notification.warning(text, { autoClose: NOTICE_TOAST_MS }));
  }
};

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Remote sidebar: saved SSH servers and their profiles, the connect wizard, ' +
    'remote sessions and trusted host keys.',
  autoStart: true,
  requires: [ICatalogModel, ISessionsModel],
  optional: [ILayoutRestorer, ICommandPalette, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    catalog: ICatalogModel,
    sessions: ISessionsModel,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    localBrowser: IDefaultFileBrowser | null
  ): void => {
    // on the profile's server, in its directory; else local (sidebar/notebooks.ts)
    const opener = {
      servers: () => catalog.servers,
      profiles: () => catalog.profiles,
      execute: (command: string, args: object) => app.commands.execute(command, { ...args }),
      localFolder: () => localBrowser?.model.path ?? '',
      warn: (message: string) => Notification.warning(message, { autoClose: NOTICE_TOAST_MS }),
      // the directory gone or out of reach: Create it / Edit profile / Open locally / Cancel
      ask: askWithDialog,
      editProfile: (profile: IProfile) => wizards.edit(profile)
    };
    const openNotebook = (kernelName: string): void =>
      void openNotebookOn(kernelName, opener).catch(error =>
        Notification.error(openFailure(kernelName, error))
      );
    // Attach's notebook: on the kernel's server, in its directory (same rules)
    const openKernel = (kernelId: string, server: string, kernel: IRemoteKernel): void =>
      void openNotebookOnKernel(kernelId, kernelPlace(server, kernel, catalog.servers), opener).catch(error =>
        Notification.error(openFailure(`kernel ${kernelId.slice(0, 8)}`, error))
      );
    const wizards = new WizardTabs({
      shell: app.shell,
      catalog,
      openNotebook,
      openSecurity: () => openSecurity(app, panel)
    });
    const panel = new RemotePanel({
      catalog,
      sessions,
      openWizard: server => wizards.open(server),
      openEditWizard: profile => wizards.edit(profile),
      retryStart: kernelName => retryStart(app, kernelName, openNotebook),
      kernelStopped: () => {
        // the notebooks of that kernel learn now that it is gone (not at the next poll)
        void app.serviceManager.sessions.refreshRunning();
        void app.serviceManager.kernels.refreshRunning();
      },
      openNotebook,
      openKernel
    });
    addCommands({ app, panel, openWizard: server => wizards.open(server), palette });
    app.shell.add(panel, 'left', { rank: SIDEBAR_RANK });
    restorer?.add(panel, panel.id);
  }
};

const terminalsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-remote:terminals',
  description:
    'Terminals on saved SSH servers: JupyterLab\'s terminal widget on a shell over the ' +
    'server\'s SSH connection, from the launcher and the command palette.',
  autoStart: true,
  requires: [ICatalogModel],
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    catalog: ICatalogModel,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const terminals = new RemoteTerminals({ app });
    const argsOf = (args: unknown): IOpenTerminalArgs => args as IOpenTerminalArgs;
    app.commands.addCommand(CommandIDs.openTerminal, {
      label: args =>
        argsOf(args).server
          ? terminalLabel(argsOf(args).server, argsOf(args).persistent)
          : 'Remote Terminal',
      caption: args =>
        argsOf(args).server ? terminalCaption(argsOf(args).server, argsOf(args).persistent) : '',
      icon: terminalIcon,
      execute: args => terminals.open(argsOf(args))
    });
    restorer?.restore(terminals.tracker, {
      command: CommandIDs.openTerminal,
      args: widget => ({ ...RemoteTerminals.argsOf(widget) }),
      name: widget => RemoteTerminals.argsOf(widget).id ?? widget.id
    });
    const items = new TerminalItems(launcher, palette);
    catalog.changed.connect(() => items.update(catalog.servers));
    void catalog.refresh();
  }
};

const filesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-remote:files',
  description:
    "The files of saved SSH servers: a JupyterLab drive each (SFTP over the server's SSH " +
    'connection) in the Remote Files panel; notebooks there prefer their server\'s kernels.',
  autoStart: true,
  requires: [ICatalogModel, IFileBrowserFactory],
  optional: [IDocumentWidgetOpener, ILayoutRestorer],
  activate: async (
    app: JupyterFrontEnd,
    catalog: ICatalogModel,
    factory: IFileBrowserFactory,
    opener: IDocumentWidgetOpener | null,
    restorer: ILayoutRestorer | null
  ): Promise<void> => {
    await activateFiles({ app, catalog, factory, opener, restorer });
  }
};

export default [
  catalogPlugin,
  sessionsPlugin,
  kernelspecsPlugin,
  noticesPlugin,
  sidebarPlugin,
  terminalsPlugin,
  filesPlugin
];

// Other extensions take the models' tokens from the package itself (the one
// module JupyterLab shares between extensions): `import { ISessionsModel } from 'jupyterlab-remote'`.
export * from './tokens';
