/**
 * The Remote sidebar widget: renders RemoteView from the catalog, sessions
 * and sidebar models, asks confirmations with JupyterLab's dialogs, and tells
 * the sidebar model when it can be seen (polling and the clock run only then).
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { RemoteView } from '../components';
import { remoteIcon } from '../icons';
import { SIDEBAR_ID } from '../tokens';
import { IConfirmation, SidebarModel } from './model';

/** Ask a yes/no question before a destructive action. */
export async function confirmWithDialog(question: IConfirmation): Promise<boolean> {
  const result = await showDialog({
    title: question.title,
    body: question.body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label: question.label, ariaLabel: question.ariaLabel })
    ]
  });
  return result.button.accept;
}

export namespace RemotePanel {
  export interface IOptions extends Omit<SidebarModel.IOptions, 'confirm' | 'focusButton'> {
    /** Ask before destructive actions; default: JupyterLab's dialog. */
    confirm?: SidebarModel.IOptions['confirm'];
  }
}

/** The Remote sidebar: servers with profiles, sessions, Security drawer. */
export class RemotePanel extends ReactWidget {
  constructor(options: RemotePanel.IOptions) {
    super();
    this.model = new SidebarModel({
      ...options,
      confirm: options.confirm ?? confirmWithDialog,
      focusButton: label => this._focusButton(label)
    });
    this.id = SIDEBAR_ID;
    this.addClass('jp-remote-Panel');
    this.title.icon = remoteIcon;
    // Like the stock sidebars, the tab shows the icon; the caption is its
    // tooltip and accessible name.
    this.title.caption = 'Remote: SSH servers and remote kernels';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Remote');
  }

  /** The sidebar's view state and actions. */
  readonly model: SidebarModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const { catalog, sessions } = this.model;
    return (
      <RemoteView
        catalog={catalog}
        sessions={sessions}
        sidebar={this.model}
        refreshIcon={<refreshIcon.react tag="span" />}
      />
    );
  }

  // Poll only while the panel can be seen: attached and not collapsed.
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.sessions.connectEvents();
    if (this.isVisible) {
      this.model.setVisible(true);
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  /** Focus a button by accessible name once React has drawn it (a few frames at most). */
  private _focusButton(label: string, attempts = 10): void {
    requestAnimationFrame(() => {
      const target = this.node.querySelector<HTMLElement>(`button[aria-label="${CSS.escape(label)}"]`);
      if (target) {
        target.focus();
      } else if (attempts > 1) {
        this._focusButton(label, attempts - 1);
      }
    });
  }
}
