/**
 * Widgets: the Remote sidebar panel and the connect wizard (main area).
 * They render the pure components from the models and hold view-only state
 * (which form is open, whether the Security drawer is open, the clock).
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import * as api from './api';
import { toRemoteError } from './api';
import {
  formatAddress,
  IFormState,
  IKernelActivity,
  RemoteView,
  ServerTool,
  WizardView
} from './components';
import { remoteIcon } from './icons';
import { RemoteModel } from './model';
import {
  IHostKey,
  IProfile,
  IServer,
  IServerInput,
  ISession,
  SIDEBAR_ID,
  WIZARD_ID_PREFIX
} from './tokens';
import { WizardModel } from './wizard';

export namespace RemotePanel {
  export interface IOptions {
    model: RemoteModel;
    /** Open the connect wizard of a server. */
    onConnect: (server: string) => void;
    /** Open a new notebook on a kernelspec. */
    onOpenNotebook: (kernelName: string) => void;
    /** Open a new notebook connected to a running kernel (after Attach). */
    onOpenKernel?: (kernelId: string) => void;
    /** After profiles were removed (refresh the kernelspecs). */
    onProfilesChanged?: () => void;
    /** JupyterLab's kernels, for the cards' "last activity". */
    kernels?: Kernel.IManager | null;
    /** Save calls (tests); default api.addServer / api.updateServer. */
    saveServer?: (mode: 'add' | 'edit', name: string, input: IServerInput) => Promise<IServer>;
  }
}

/** The Remote sidebar: servers with profiles, sessions, Security drawer. */
export class RemotePanel extends ReactWidget {
  constructor(options: RemotePanel.IOptions) {
    super();
    this.model = options.model;
    this._options = options;
    this.id = SIDEBAR_ID;
    this.addClass('jp-remote-Panel');
    this.title.icon = remoteIcon;
    // Like the stock sidebars, the tab shows the icon; the caption is its
    // tooltip and accessible name.
    this.title.caption = 'Remote: SSH servers and remote kernels';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Remote');
    this.model.changed.connect(this._onModelChanged, this);
    options.kernels?.runningChanged.connect(this._onKernelsChanged, this);
  }

  readonly model: RemoteModel;

  /** Open the add-server form. */
  openAddForm(): void {
    this._form = { mode: 'add', server: null, saving: false, error: null };
    this.update();
  }

  /** Open the edit form of a server. */
  openEditForm(server: IServer): void {
    this._form = { mode: 'edit', server, saving: false, error: null };
    this.update();
  }

  /** Open (or close) the Security drawer, fetching the keys when opened. */
  setSecurityOpen(open: boolean): void {
    this._securityOpen = open;
    if (open) {
      void this.model.refreshHostKeys();
    }
    this.update();
  }

  get securityOpen(): boolean {
    return this._securityOpen;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopClock();
    this.model.changed.disconnect(this._onModelChanged, this);
    this._options.kernels?.runningChanged.disconnect(this._onKernelsChanged, this);
    this.model.stopPolling();
    super.dispose();
  }

  protected render(): JSX.Element {
    const model = this.model;
    return (
      <RemoteView
        servers={model.servers}
        profiles={model.profiles}
        loading={model.loading}
        loaded={model.loaded}
        error={model.error}
        onRefresh={() => {
          void model.refresh();
          void model.refreshSessions();
        }}
        refreshIcon={<refreshIcon.react tag="span" />}
        form={this._form}
        onAddServer={() => this.openAddForm()}
        onSubmitServer={input => void this._saveServer(input)}
        onCancelForm={() => this._closeForm()}
        onConnect={server => this._options.onConnect(server.name)}
        onEdit={server => this.openEditForm(server)}
        onRemove={server => void this._confirmRemoveServer(server)}
        onOpenNotebook={profile => this._options.onOpenNotebook(profile.kernel_name)}
        onRemoveProfile={profile => void this._confirmRemoveProfile(profile)}
        isBusy={action => model.isBusy(action)}
        sessions={model.sessions}
        sessionsLoaded={model.sessionsLoaded}
        sessionsError={model.sessionsError}
        onRefreshSessions={() => void model.refreshSessions()}
        eventsState={model.eventsState}
        now={Date.now()}
        progressOf={id => model.progressOf(id)}
        sessionErrorOf={id => model.sessionError(id)}
        displayNameOf={session => this._displayNameOf(session)}
        activityOf={session => this._activityOf(session)}
        onStop={session => void this._confirmStop(session)}
        onRetry={session => void model.retrySession(session.id)}
        onDismiss={session => model.dismissSession(session.id)}
        onOpen={session => {
          if (session.url) {
            api.openForwardTab(session);
          }
        }}
        openTool={server => this._openTools.get(server) ?? null}
        onToggleTool={(server, tool) => this._toggleTool(server, tool)}
        remoteKernelsOf={server => model.remoteKernelsOf(server)}
        onRefreshKernels={server => void model.loadRemoteKernels(server)}
        onAttach={(server, kernel) => void this._attach(server, kernel.kernel_id)}
        onStopRemoteKernel={(server, kernel) =>
          void this._confirmStopRemoteKernel(server, kernel.kernel_id)
        }
        onForward={input => void model.openForward(input)}
        forwardErrorOf={server => model.forwardError(server)}
        securityOpen={this._securityOpen}
        onToggleSecurity={() => this.setSecurityOpen(!this._securityOpen)}
        hostKeys={model.hostKeys}
        hostKeysError={model.hostKeysError}
        onRetryHostKeys={() => void model.refreshHostKeys()}
        onRemoveHostKey={key => void this._confirmRemoveKey(key)}
        actionError={model.actionError}
        onDismissActionError={() => model.clearActionError()}
      />
    );
  }

  // Poll only while the panel can be seen: attached and not collapsed.
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.connectEvents();
    if (this.isVisible) {
      this.model.startPolling();
      this._syncClock();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.startPolling();
    this._syncClock();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.stopPolling();
    this._stopClock();
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.stopPolling();
    this._stopClock();
    super.onBeforeDetach(msg);
  }

  private async _saveServer(input: IServerInput): Promise<void> {
    const form = this._form;
    if (!form || form.saving) {
      return;
    }
    const name = form.mode === 'add' ? input.name ?? '' : form.server?.name ?? '';
    this._form = { ...form, saving: true, error: null };
    this.update();
    try {
      const save =
        this._options.saveServer ??
        ((mode: 'add' | 'edit', n: string, body: IServerInput) =>
          mode === 'add' ? api.addServer(body) : api.updateServer(n, body));
      const saved = await save(form.mode, name, input);
      this._closeForm();
      await this.model.refresh();
      if (form.mode === 'add') {
        this._options.onConnect(saved.name);
      }
    } catch (error) {
      const remote = toRemoteError(error);
      if (!remote.field && remote.reason === 'conflict') {
        remote.field = 'name';
      }
      this._form = { ...form, saving: false, error: remote };
      this.update();
    }
  }

  private async _confirmRemoveServer(server: IServer): Promise<void> {
    const profiles = this.model.profilesOf(server.name);
    const body = profiles.length
      ? `Remove server ${server.name} and its profile${profiles.length > 1 ? 's' : ''} ` +
        `${profiles.map(p => p.name).join(', ')} (their kernels disappear from the ` +
        'launcher)? Kernels running now keep running until you stop them.'
      : `Remove server ${server.name}? Its saved password or passphrase is forgotten too.`;
    const result = await showDialog({
      title: 'Remove server',
      body,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Remove', ariaLabel: `Remove server ${server.name}` })
      ]
    });
    if (result.button.accept) {
      const ok = await this.model.removeServer(server.name, { withProfiles: true });
      if (ok && profiles.length) {
        this._options.onProfilesChanged?.();
      }
    }
  }

  private async _confirmRemoveProfile(profile: IProfile): Promise<void> {
    const result = await showDialog({
      title: 'Remove profile',
      body:
        `Remove profile ${profile.name} and its kernel ${profile.kernel_name}? ` +
        'Notebooks using it will ask for another kernel.',
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Remove', ariaLabel: `Remove profile ${profile.name}` })
      ]
    });
    if (result.button.accept && (await this.model.removeProfile(profile.name))) {
      this._options.onProfilesChanged?.();
    }
  }

  private async _confirmRemoveKey(key: IHostKey): Promise<void> {
    const result = await showDialog({
      title: 'Remove trusted host key',
      body:
        `Stop trusting the ${key.key_type} key ${key.fingerprint} of ${key.host_id}? ` +
        'The next connection will show the key the host offers then, for you to compare ' +
        'and trust again.',
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Remove key', ariaLabel: `Remove the key of ${key.host_id}` })
      ]
    });
    if (result.button.accept) {
      await this.model.removeHostKey(key.host_id);
    }
  }

  /** Close the form and give the focus back to where it came from. */
  private _closeForm(): void {
    const form = this._form;
    this._form = null;
    this.update();
    requestAnimationFrame(() => {
      const label =
        form?.mode === 'edit' && form.server ? `Edit server ${form.server.name}` : 'Add server';
      const target = this.node.querySelector<HTMLElement>(`button[aria-label="${CSS.escape(label)}"]`);
      target?.focus();
    });
  }

  private _toggleTool(server: string, tool: ServerTool): void {
    if (this._openTools.get(server) === tool) {
      this._openTools.delete(server);
    } else {
      this._openTools.set(server, tool);
      if (tool === 'kernels') {
        void this.model.loadRemoteKernels(server);
      }
    }
    this.update();
  }

  private async _attach(server: string, kernelId: string): Promise<void> {
    const id = await this.model.attachKernel(server, kernelId);
    if (id) {
      this._options.onOpenKernel?.(id);
    }
  }

  private async _confirmStopRemoteKernel(server: string, kernelId: string): Promise<void> {
    const result = await showDialog({
      title: 'Stop remote kernel',
      body:
        `Stop kernel ${kernelId} on ${server}? Its variables are lost and its ` +
        'files under ~/.local/share/jupyter-remote are removed.',
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Stop kernel', ariaLabel: `Stop kernel ${kernelId}` })
      ]
    });
    if (result.button.accept) {
      await this.model.stopRemoteKernel(server, kernelId);
    }
  }

  private async _confirmStop(session: ISession): Promise<void> {
    await this.model.stopSession(session.id);
  }

  private _displayNameOf(session: ISession): string | undefined {
    const profile = this.model.profiles.find(p => p.name === session.profile);
    return profile?.display_name ?? undefined;
  }

  private _activityOf(session: ISession): IKernelActivity | null {
    const kernels = this._options.kernels;
    if (!kernels) {
      return null;
    }
    for (const kernel of kernels.running()) {
      if (kernel.id === session.kernel_id) {
        return {
          execution_state: kernel.execution_state,
          last_activity: kernel.last_activity
        };
      }
    }
    return null;
  }

  /** Tick every second while a live session shows an uptime. */
  private _syncClock(): void {
    const ticking = this.isVisible && this.model.sessions.some(s => s.state !== 'stopped');
    if (ticking && this._clock === null) {
      this._clock = setInterval(() => this.update(), 1000);
    } else if (!ticking) {
      this._stopClock();
    }
  }

  private _stopClock(): void {
    if (this._clock !== null) {
      clearInterval(this._clock);
      this._clock = null;
    }
  }

  private _onModelChanged(): void {
    this._syncClock();
    this.update();
  }

  private _onKernelsChanged(): void {
    if (this.model.sessions.length) {
      this.update();
    }
  }

  private readonly _options: RemotePanel.IOptions;
  private _form: IFormState | null = null;
  private _openTools = new Map<string, ServerTool>();
  private _securityOpen = false;
  private _clock: ReturnType<typeof setInterval> | null = null;
}

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
    this.model.changed.connect(this._onChanged, this);
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
    this._stopClock();
    this.model.changed.disconnect(this._onChanged, this);
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const m = this.model;
    const server = this._options.server;
    return (
      <WizardView
        state={m}
        address={server ? formatAddress(server) : m.server}
        now={Date.now()}
        onBack={() => m.back()}
        onNext={() => m.next()}
        onClose={() => this.close()}
        onTest={() => void m.runTest()}
        onTrust={() => void m.trust()}
        onCancelTrust={() => m.cancelTrust()}
        onOpenSecurity={this._options.onOpenSecurity}
        onRefreshEnvironments={() => void m.loadEnvironments(true)}
        onSelect={key => m.select(key)}
        onCustomPath={path => m.setCustomPath(path)}
        onUseCustom={useCustom => m.setUseCustom(useCustom)}
        onInstall={python => void m.installIpykernel(python)}
        onName={name => m.setName(name)}
        onCwd={cwd => m.setCwd(cwd)}
        onIdleTimeout={seconds => m.setIdleTimeout(seconds)}
        onAddEnvVar={() => m.addEnvVar()}
        onEnvVar={(index, row) => m.setEnvVar(index, row)}
        onRemoveEnvVar={index => m.removeEnvVar(index)}
        onStart={() => void m.save()}
        onInstallAndStart={() => void m.installAndSave()}
        onOpenNotebook={kernelName => this._options.onOpenNotebook(kernelName)}
      />
    );
  }

  private _onChanged(): void {
    const testing = this.model.connect.status === 'testing';
    if (testing && this._clock === null) {
      this._clock = setInterval(() => this.update(), 1000);
    } else if (!testing) {
      this._stopClock();
    }
    this.update();
  }

  private _stopClock(): void {
    if (this._clock !== null) {
      clearInterval(this._clock);
      this._clock = null;
    }
  }

  private _options: WizardPanel.IOptions;
  private _clock: ReturnType<typeof setInterval> | null = null;
}
