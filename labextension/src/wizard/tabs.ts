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
    if (this._showOpen(server)) {
      return;
    }
    const model = new WizardModel({ server, catalog: this._options.catalog });
    this._show(server, this._panel(model));
    void model.start();
  }

  /**
   * Show the wizard editing `profile` (on its Review step, prefilled; Back
   * reaches its environments). One tab per profile.
   */
  edit(profile: IProfile): void {
    const key = `edit:${profile.name}`;
    if (this._showOpen(key)) {
      return;
    }
    const model = new WizardModel({ server: profile.server, catalog: this._options.catalog, profile });
    const content = this._panel(model);
    content.id = `${WIZARD_ID_PREFIX}edit-${profile.name}`;
    content.title.label = `Edit: ${profile.name}`;
    content.title.caption = `Edit profile ${profile.name}`;
    content.node.setAttribute('aria-label', `Edit profile ${profile.name}`);
    this._show(key, content);
    void model.start();
  }

  /** Show the open tab of `key` (true), unless its profile was saved already: then
   * it closes, for a new wizard (false). */
  private _showOpen(key: string): boolean {
    const existing = this._tabs.get(key);
    if (existing && !existing.isDisposed && existing.content.model.review.status !== 'saved') {
      this._options.shell.activateById(existing.id);
      return true;
    }
    existing?.dispose();
    return false;
  }

  private _panel(model: WizardModel): WizardPanel {
    const { catalog, openNotebook, openSecurity } = this._options;
    return new WizardPanel({
      model,
      server: catalog.server(model.server),
      onOpenNotebook: openNotebook,
      onOpenSecurity: openSecurity
    });
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
