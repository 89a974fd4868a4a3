/**
 * The Remote sidebar panel: renders the pure components from the model.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { RemoteView } from './components';
import { remoteIcon } from './icons';
import { RemoteModel } from './model';
import { SIDEBAR_ID } from './tokens';

export class RemotePanel extends ReactWidget {
  constructor(model: RemoteModel) {
    super();
    this.model = model;
    this.id = SIDEBAR_ID;
    this.addClass('jp-remote-Panel');
    this.title.icon = remoteIcon;
    // Like the stock sidebars, the tab shows the icon; the caption is its
    // tooltip and accessible name.
    this.title.caption = 'Remote: SSH servers and remote kernels';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Remote');
    model.changed.connect(this._onModelChanged, this);
  }

  readonly model: RemoteModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    this.model.stopPolling();
    super.dispose();
  }

  protected render(): JSX.Element {
    const model = this.model;
    return (
      <RemoteView
        servers={model.servers}
        loading={model.loading}
        loaded={model.loaded}
        error={model.error}
        onRefresh={() => void model.refresh()}
        refreshIcon={<refreshIcon.react tag="span" />}
      />
    );
  }

  // Poll only while the panel can be seen: attached and not collapsed.
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.model.startPolling();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.startPolling();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.stopPolling();
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.stopPolling();
    super.onBeforeDetach(msg);
  }

  private _onModelChanged(): void {
    this.update();
  }
}
