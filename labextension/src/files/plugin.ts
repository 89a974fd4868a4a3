/**
 * What the files plugin does when JupyterLab starts (index.ts wires it):
 * registers a drive per saved SSH server with the contents manager before the
 * layout is restored (so documents of a remote drive reopen after a reload),
 * adds the Remote Files panel, makes notebooks of a remote drive prefer a
 * kernel of their server, and keeps launchers at the local root creating
 * locally (launchers.ts).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentWidgetOpener } from '@jupyterlab/docmanager';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';

import { ICatalogModel } from '../tokens';
import { RemoteDrive } from './drive';
import { preferServerKernels } from './kernels';
import { pinLaunchersToTheirFolder } from './launchers';
import { RemoteFilesPanel } from './panel';
import { fileServers, profileRoots } from './roots';

/** Rank of the Remote Files panel in the left area (after the Remote sidebar's 600). */
export const FILES_RANK = 610;

/** How long start-up waits for the list of servers before going on without drives. */
const CATALOG_WAIT_MS = 5000;

export interface IFilesPluginOptions {
  app: JupyterFrontEnd;
  catalog: ICatalogModel;
  factory: IFileBrowserFactory;
  opener: IDocumentWidgetOpener | null;
  restorer: ILayoutRestorer | null;
}

/** Activate the files plugin; resolves once the drives of the saved servers exist. */
export async function activateFiles(options: IFilesPluginOptions): Promise<RemoteFilesPanel> {
  const { app, catalog, factory, opener, restorer } = options;
  pinLaunchersToTheirFolder(app.commands); // before the start-up launcher is made
  const drives = new Map<string, RemoteDrive>();
  const driveNames = new Set<string>();
  const driveOf = (server: string): RemoteDrive => {
    let drive = drives.get(server);
    if (!drive) {
      drive = new RemoteDrive({ server, serverSettings: app.serviceManager.serverSettings });
      app.serviceManager.contents.addDrive(drive);
      drives.set(server, drive);
      driveNames.add(server);
    }
    return drive;
  };
  const panel = new RemoteFilesPanel({ factory, drive: driveOf });
  const update = (): void => {
    const servers = fileServers(catalog.servers);
    servers.forEach(driveOf);
    panel.setRoots(profileRoots(catalog.profiles));
    panel.setServers(servers);
  };
  catalog.changed.connect(update);
  if (opener) {
    preferServerKernels(opener, () => catalog.profiles, driveNames);
  }
  await Promise.race([
    catalog.refresh().catch(() => undefined),
    new Promise(resolve => setTimeout(resolve, CATALOG_WAIT_MS))
  ]);
  update();
  app.shell.add(panel, 'left', { rank: FILES_RANK });
  restorer?.add(panel, panel.id);
  return panel;
}
