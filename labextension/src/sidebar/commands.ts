/**
 * The sidebar's commands (`remote:*`) and their palette entries.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import { remoteIcon } from '../icons';
import { CommandIDs } from '../tokens';
import { RemotePanel } from './panel';

export interface ICommandsOptions {
  app: JupyterFrontEnd;
  panel: RemotePanel;
  /** Open the connect wizard of a server. */
  openWizard: (server: string) => void;
  palette: ICommandPalette | null;
}

/** Reveal the sidebar with its Security drawer open. */
export function openSecurity(app: JupyterFrontEnd, panel: RemotePanel): void {
  app.shell.activateById(panel.id);
  panel.model.setSecurityOpen(true);
}

export function addCommands({ app, panel, openWizard, palette }: ICommandsOptions): void {
  const { commands, shell } = app;
  const { catalog, sessions } = panel.model;
  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Remote Servers',
    caption: 'Fetch the saved remote servers, profiles, sessions and host keys again',
    icon: refreshIcon,
    execute: async () => {
      await Promise.all([catalog.refresh(), sessions.refresh()]);
    }
  });
  commands.addCommand(CommandIDs.open, {
    label: 'Show Remote Sidebar',
    icon: remoteIcon,
    execute: () => shell.activateById(panel.id)
  });
  commands.addCommand(CommandIDs.addServer, {
    label: 'Add Remote Server…',
    caption: 'Save an SSH server to run kernels on',
    icon: addIcon,
    execute: () => {
      shell.activateById(panel.id);
      panel.model.openAddForm();
    }
  });
  commands.addCommand(CommandIDs.connect, {
    label: args => (args.server ? `Connect to ${args.server as string}…` : 'Connect to Remote Server…'),
    caption: 'Test a saved server, choose an environment and add a profile',
    icon: remoteIcon,
    isEnabled: args => typeof args.server === 'string' && !!args.server,
    execute: args => openWizard(args.server as string)
  });
  commands.addCommand(CommandIDs.openSecurity, {
    label: 'Show Trusted Host Keys',
    caption: 'Open the Security drawer of the Remote sidebar',
    execute: () => openSecurity(app, panel)
  });

  if (palette) {
    const category = 'Remote';
    palette.addItem({ command: CommandIDs.open, category });
    palette.addItem({ command: CommandIDs.addServer, category });
    palette.addItem({ command: CommandIDs.refresh, category });
    palette.addItem({ command: CommandIDs.openSecurity, category });
  }
}

/** The part of a notebook panel's session context that a retried start uses. */
interface IRetryableContext {
  session: { kernel: unknown | null } | null;
  kernelPreference: { name?: string };
  changeKernel(options: { name: string }): Promise<unknown>;
}

/**
 * Start a kernel whose start failed again (the Retry of its session card): in
 * every open notebook that waits for that kernelspec with no kernel, else in
 * a new notebook (`openNew`: index.ts gives the sidebar's, on the profile's server).
 */
export function retryStart(
  app: JupyterFrontEnd,
  kernelName: string,
  openNew: (kernelName: string) => void = name =>
    void app.commands.execute('notebook:create-new', { kernelName: name })
): void {
  let retried = 0;
  for (const widget of app.shell.widgets('main')) {
    const context = (widget as unknown as { sessionContext?: IRetryableContext }).sessionContext;
    if (context && !context.session?.kernel && context.kernelPreference?.name === kernelName) {
      void context.changeKernel({ name: kernelName });
      retried++;
    }
  }
  if (!retried) {
    openNew(kernelName);
  }
}
