/**
 * RemoteFilesPanel: the "Remote Files" panel of the left area.
 *
 * A server switcher above JupyterLab's own file browser (made by the file
 * browser factory, so its context menu, drag and drop, uploads, rename,
 * copy/paste and "Open With" are JupyterLab's) showing the selected server's
 * drive. One browser per server, made on first use and kept; a new browser
 * opens at the remote's home directory (later at the folder it showed last).
 *
 * A browser is made only once the panel is shown: JupyterLab's file browser
 * tracker makes the newest browser its current one, and commands that create
 * files without a folder (File > New > Notebook, the palette; not the sidebar's
 * "Open notebook", which gives its own: sidebar/notebooks.ts) use the current
 * browser's folder. A browser made at start-up, unseen, would
 * send those files to the remote (whose `/` is not writable). Once the user has
 * browsed a server, commands given no folder (File > New > Notebook, the
 * palette) follow JupyterLab's rule: the last browser used; a launcher creates
 * in its own folder, the local one it shows, also at the root (launchers.ts).
 */
import { Notification } from '@jupyterlab/apputils';
import { FileBrowser, IFileBrowserFactory, Uploader } from '@jupyterlab/filebrowser';
import {
  folderIcon,
  homeIcon,
  newFolderIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { RemoteDrive } from './drive';
import { trackUploads } from './uploads';

export const FILES_PANEL_ID = 'jp-remote-files';

/** The DOM id of a server's file browser (also its state key: the folder it shows). */
export function browserId(server: string): string {
  return `jp-remote-files-${server}`;
}

export interface IRemoteFilesPanelOptions {
  factory: IFileBrowserFactory;
  /** The drive of a server (registered with the contents manager). */
  drive: (server: string) => RemoteDrive;
}

export class RemoteFilesPanel extends Panel {
  constructor(options: IRemoteFilesPanelOptions) {
    super();
    this._options = options;
    this.id = FILES_PANEL_ID;
    this.addClass('jp-RemoteFiles');
    this.title.icon = folderIcon;
    this.title.caption = 'Remote Files';
    this._header = new Widget({ node: this._makeHeader() });
    this._header.addClass('jp-RemoteFiles-header');
    this.addWidget(this._header);
    this._empty = new Widget();
    this._empty.addClass('jp-RemoteFiles-empty');
    this._empty.node.textContent =
      'No SSH server saved yet: add one in the Remote sidebar to browse its files here.';
    this.addWidget(this._empty);
  }

  /** The server shown now ('' when none). */
  get server(): string {
    return this._server;
  }

  /** The browser of the server shown now. */
  get browser(): FileBrowser | null {
    return this._browsers.get(this._server) ?? null;
  }

  /**
   * The working directories (storage roots) of each server's profiles, offered
   * in the "Go to" menu beside the home directory.
   */
  setRoots(roots: ReadonlyMap<string, readonly string[]>): void {
    this._roots = roots;
    this._fillRoots();
  }

  /** Offer these servers (the SSH servers of the catalog). */
  setServers(servers: readonly string[]): void {
    const select = this._select;
    const names = [...servers];
    select.replaceChildren(
      ...names.map(name => {
        const option = document.createElement('option');
        option.value = name;
        option.textContent = name;
        return option;
      })
    );
    this._empty.setHidden(names.length > 0);
    if (!names.includes(this._server)) {
      void this.showServer(names[0] ?? '');
    } else {
      select.value = this._server;
    }
  }

  /** Show a server's files (its browser made on first use, once the panel shows). */
  async showServer(server: string): Promise<void> {
    this._server = server;
    this._select.value = server;
    this._fillRoots();
    for (const [name, browser] of this._browsers) {
      browser.setHidden(name !== server);
    }
    if (!server || this._browsers.has(server) || !this.isVisible) {
      return;
    }
    const browser = this._make(server);
    this._browsers.set(server, browser);
    this.addWidget(browser);
    await browser.model.restored;
    if (browser.model.path === `${server}:`) {
      await this.goHome();
    }
  }

  /** Go to the remote home directory of the server shown. */
  async goHome(): Promise<void> {
    await this.goTo('~');
  }

  /** Go to a directory of the server shown: absolute, or `~`-relative. */
  async goTo(directory: string): Promise<void> {
    const browser = this.browser;
    if (!browser) {
      return;
    }
    let local = directory.replace(/^\/+/, '');
    if (directory === '~' || directory.startsWith('~/')) {
      const home = await this._options.drive(this._server).home();
      local = [home, directory.slice(2)].filter(Boolean).join('/');
    }
    // cd resolves against the browser's drive: an absolute path within it, not NAME:path
    await browser.model.cd(`/${local}`);
  }

  /** The panel is shown: make the browser of the server chosen while it was hidden. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._server && !this._browsers.has(this._server)) {
      void this.showServer(this._server);
    }
  }

  private _fillRoots(): void {
    const roots = [...new Set(this._roots.get(this._server) ?? [])].filter(r => r && r !== '~');
    const home = document.createElement('option');
    home.value = '~';
    home.textContent = 'Home directory';
    this._goto.replaceChildren(
      home,
      ...roots.map(root => {
        const option = document.createElement('option');
        option.value = root;
        option.textContent = root;
        return option;
      })
    );
    this._goto.value = '~';
  }

  private _make(server: string): FileBrowser {
    const drive = this._options.drive(server);
    const browser = this._options.factory.createFileBrowser(browserId(server), {
      driveName: server,
      refreshInterval: 15000
    });
    browser.addClass('jp-RemoteFiles-browser');
    browser.title.label = server;
    const toolbar = browser.toolbar;
    toolbar.addItem(
      'home',
      new ToolbarButton({
        icon: homeIcon,
        tooltip: `Home directory on ${server}`,
        onClick: () => void this.goHome()
      })
    );
    toolbar.addItem(
      'new-folder',
      new ToolbarButton({
        icon: newFolderIcon,
        tooltip: 'New Folder',
        onClick: () => void browser.createNewDirectory()
      })
    );
    toolbar.addItem('upload', new Uploader({ model: browser.model }));
    toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: `Refresh the listing of ${server}`,
        onClick: () => void browser.model.refresh()
      })
    );
    const untrack = trackUploads(browser.model, drive, Notification);
    browser.disposed.connect(untrack);
    return browser;
  }

  private _makeHeader(): HTMLElement {
    const node = document.createElement('div');
    const label = document.createElement('label');
    label.textContent = 'Server ';
    this._select.setAttribute('aria-label', 'Server whose files are shown');
    this._select.addEventListener('change', () => void this.showServer(this._select.value));
    label.appendChild(this._select);
    node.appendChild(label);
    const goto = document.createElement('label');
    goto.textContent = 'Go to ';
    this._goto.setAttribute('aria-label', "Go to the home directory or a profile's directory");
    this._goto.addEventListener('change', () => void this.goTo(this._goto.value));
    goto.appendChild(this._goto);
    node.appendChild(goto);
    return node;
  }

  private _options: IRemoteFilesPanelOptions;
  private _header: Widget;
  private _empty: Widget;
  private _select = document.createElement('select');
  private _goto = document.createElement('select');
  private _roots: ReadonlyMap<string, readonly string[]> = new Map();
  private _server = '';
  private _browsers = new Map<string, FileBrowser>();
}
