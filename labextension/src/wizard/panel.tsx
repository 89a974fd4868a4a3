/**
 * The connect wizard of one server as a main-area widget: renders WizardView
 * from its model (which it owns and disposes).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { formatAddress, WizardView } from '../components';
import { remoteIcon } from '../icons';
import { IServer, WIZARD_ID_PREFIX } from '../tokens';
import { WizardModel } from './model';

export namespace WizardPanel {
  export interface IOptions {
    model: WizardModel;
    /** The server (for its address); may be updated later. */
    server: IServer | null;
    onOpenNotebook: (kernelName: string) => void;
    onOpenSecurity: () => void;
  }
}

/** The connect wizard of one server, shown in the main area. */
export class WizardPanel extends ReactWidget {
  constructor(options: WizardPanel.IOptions) {
    super();
    this.model = options.model;
    this._options = options;
    this.id = `${WIZARD_ID_PREFIX}${options.model.server}`;
    this.addClass('jp-remote-WizardPanel');
    this.title.label = `Connect: ${options.model.server}`;
    this.title.caption = `Connect to ${options.model.server} and add a profile`;
    this.title.icon = remoteIcon;
    this.title.closable = true;
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', `Connect to ${options.model.server}`);
  }

  readonly model: WizardModel;

  /** Set the server record (address shown in the header). */
  setServer(server: IServer | null): void {
    this._options = { ...this._options, server };
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this.model.dispose();
  }

  protected render(): JSX.Element {
    const server = this._options.server;
    return (
      <WizardView
        model={this.model}
        address={server ? formatAddress(server) : this.model.server}
        onClose={() => this.close()}
        onOpenNotebook={this._options.onOpenNotebook}
        onOpenSecurity={this._options.onOpenSecurity}
      />
    );
  }

  private _options: WizardPanel.IOptions;
}
