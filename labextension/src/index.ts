/**
 * jupyterlab-remote frontend: plugins only. Logic lives in api.ts/model.ts,
 * rendering in widget.tsx and components/.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';

import { remoteIcon } from './icons';
import { RemoteModel } from './model';
import { CommandIDs, PLUGIN_ID } from './tokens';
import { RemotePanel } from './widget';

/** Rank in the left area: after the stock panels (file browser is 100). */
const SIDEBAR_RANK = 600;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Remote sidebar: saved SSH servers and their kernels.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const model = new RemoteModel();
    const panel = new RemotePanel(model);

    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Remote Servers',
      caption: 'Fetch the saved remote servers again',
      icon: refreshIcon,
      execute: () => model.refresh()
    });
    app.commands.addCommand(CommandIDs.open, {
      label: 'Show Remote Sidebar',
      icon: remoteIcon,
      execute: () => app.shell.activateById(panel.id)
    });

    if (palette) {
      const category = 'Remote';
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    app.shell.add(panel, 'left', { rank: SIDEBAR_RANK });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
  }
};

export default plugin;
