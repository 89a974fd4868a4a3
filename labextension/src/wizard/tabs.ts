/**
 * The connect wizards' tabs in the main area: one per server. Opening the
 * wizard of a server whose tab is open shows that tab, unless its profile was
 * saved already (then a new wizard starts for another profile).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';

import { remoteIcon } from '../icons';
import { ICatalogModel, IProfile, WIZARD_ID_PREFIX } from '../tokens';
import { WizardModel } from './model';
import { WizardPanel } from './panel';

export namespace WizardTabs {
  export interface IOptions {
    shell: JupyterFrontEnd.IShell;
    catalog: ICatalogModel;
    /** Open a new notebook on a kernelspec (the saved profile's). */
    openNotebook: (kernelName: string) => void;
    /** Reveal the sidebar's Security drawer. */
    openSecurity: () => void;
  }
}

export class WizardTabs {
  constructor(options: WizardTabs.IOptions) {
    this._options = options;
  }

  /** Show the wizard of `server`, starting it (its connection test) when new. */
  open(server: string): void {
    const { shell, catalog } = this._options;
    const existing = this._tabs.get(server);
    if (existing && !existing.isDisposed) {
      if (existing.content.model.review.status !== 'saved') {
        shell.activateById(existing.id);
        return;
      }
      // that one is finished: start over for a new profile
      existing.dispose();
    }
    const model = new WizardModel({ server, catalog });
    const content = new WizardPanel({
      model,
      server: catalog.server(server),
      onOpenNotebook: this._options.openNotebook,
      onOpenSecurity: this._options.openSecurity
    });
    const widget = new MainAreaWidget({ content });
    widget.id = `${WIZARD_ID_PREFIX}${server}-tab`;
    widget.title.label = content.title.label;
    widget.title.caption = content.title.caption;
    widget.title.icon = remoteIcon;
    widget.title.closable = true;
    widget.disposed.connect(() => {
      if (this._tabs.get(server) === widget) {
        this._tabs.delete(server);
      }
    });
    this._tabs.set(server, widget);
    shell.add(widget, 'main');
    shell.activateById(widget.id);
    void model.start();
  }

  /**
   * Show the wizard editing `profile` (on its Review step, prefilled; Back
   * reaches its environments). One tab per profile.
   */
  edit(profile: IProfile): void {
    const { shell, catalog } = this._options;
    const key = `edit:${profile.name}`;
    const existing = this._tabs.get(key);
    if (existing && !existing.isDisposed && existing.content.model.review.status !== 'saved') {
      shell.activateById(existing.id);
      return;
    }
    existing?.dispose();
    const model = new WizardModel({ server: profile.server, catalog, profile });
    const content = new WizardPanel({
      model,
      server: catalog.server(profile.server),
      onOpenNotebook: this._options.openNotebook,
      onOpenSecurity: this._options.openSecurity
    });
    content.id = `${WIZARD_ID_PREFIX}edit-${profile.name}`;
    content.title.label = `Edit: ${profile.name}`;
    content.title.caption = `Edit profile ${profile.name}`;
    content.node.setAttribute('aria-label', `Edit profile ${profile.name}`);
    this._show(key, content);
    void model.start();
  }

  private _show(key: string, content: WizardPanel): void {
    const widget = new MainAreaWidget({ content });
    widget.id = `${content.id}-tab`;
    widget.title.label = content.title.label;
    widget.title.caption = content.title.caption;
    widget.title.icon = remoteIcon;
    widget.title.closable = true;
    widget.disposed.connect(() => {
      if (this._tabs.get(key) === widget) {
        this._tabs.delete(key);
      }
    });
    this._tabs.set(key, widget);
    this._options.shell.add(widget, 'main');
    this._options.shell.activateById(widget.id);
  }

  private readonly _options: WizardTabs.IOptions;
  private readonly _tabs = new Map<string, MainAreaWidget<WizardPanel>>();
}
