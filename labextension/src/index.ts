/**
 * jupyterlab-remote frontend: plugins only. Logic lives in api.ts, model.ts
 * and wizard.ts, rendering in widget.tsx and components/.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';

import { remoteIcon } from './icons';
import { RemoteModel } from './model';
import { CommandIDs, PLUGIN_ID, WIZARD_ID_PREFIX } from './tokens';
import { RemotePanel, WizardPanel } from './widget';
import { WizardModel } from './wizard';

/** Rank in the left area: after the stock panels (file browser is 100). */
const SIDEBAR_RANK = 600;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Remote sidebar: saved SSH servers and their profiles, the connect wizard, ' +
    'remote sessions and trusted host keys.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands, serviceManager, shell } = app;
    const model = new RemoteModel();
    const wizards = new Map<string, MainAreaWidget<WizardPanel>>();

    /** Refresh the kernelspecs so the launcher and kernel picker show profiles at once. */
    const refreshSpecs = async (): Promise<void> => {
      try {
        await serviceManager.kernelspecs.refreshSpecs();
      } catch (error) {
        console.warn('jupyterlab-remote: could not refresh kernelspecs', error);
      }
    };

    const openNotebook = (kernelName: string): Promise<unknown> =>
      commands.execute('notebook:create-new', { kernelName });

    const openSecurity = (): void => {
      shell.activateById(panel.id);
      panel.setSecurityOpen(true);
    };

    const openWizard = (server: string): void => {
      const existing = wizards.get(server);
      if (existing && !existing.isDisposed) {
        if (existing.content.model.review.status !== 'saved') {
          shell.activateById(existing.id);
          return;
        }
        // that one is finished: start over for a new profile
        existing.dispose();
      }
      const wizardModel = new WizardModel({
        server,
        takenNames: model.profiles.map(p => p.name),
        onProfileSaved: async () => {
          await refreshSpecs();
          await model.refresh();
        },
        onHostKeyTrusted: () => void model.refreshHostKeys()
      });
      const content = new WizardPanel({
        model: wizardModel,
        server: model.servers.find(s => s.name === server) ?? null,
        onOpenNotebook: kernelName => void openNotebook(kernelName),
        onOpenSecurity: openSecurity
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `${WIZARD_ID_PREFIX}${server}-tab`;
      widget.title.label = content.title.label;
      widget.title.caption = content.title.caption;
      widget.title.icon = remoteIcon;
      widget.title.closable = true;
      widget.disposed.connect(() => {
        if (wizards.get(server) === widget) {
          wizards.delete(server);
        }
      });
      wizards.set(server, widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      void wizardModel.start();
    };

    const panel = new RemotePanel({
      model,
      onConnect: openWizard,
      onOpenNotebook: kernelName => void openNotebook(kernelName),
      onOpenKernel: kernelId => void commands.execute('notebook:create-new', { kernelId }),
      onProfilesChanged: () => void refreshSpecs(),
      kernels: serviceManager.kernels
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Remote Servers',
      caption: 'Fetch the saved remote servers, profiles, sessions and host keys again',
      icon: refreshIcon,
      execute: async () => {
        await Promise.all([model.refresh(), model.refreshSessions()]);
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
        panel.openAddForm();
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
      execute: openSecurity
    });

    if (palette) {
      const category = 'Remote';
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.addServer, category });
      palette.addItem({ command: CommandIDs.refresh, category });
      palette.addItem({ command: CommandIDs.openSecurity, category });
    }

    shell.add(panel, 'left', { rank: SIDEBAR_RANK });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    model.connectEvents();
  }
};

export default plugin;
