/**
 * The Environment step's actions of the connect wizard (WizardModel extends this
 * class; the Environment step's view calls them through it): list the server's
 * environments and its Slurm, choose one or type a path, install ipykernel, create
 * an environment, each streaming its output into the step's state.
 */
import { toRemoteError } from '../api';
import { EnvironmentTool, IEnvironmentCreated } from '../tokens';
import { envKey, preselect } from './environments';
import { clusterOf, defaultPartition, ISlurmState, SLURM_IDLE_TIMEOUT } from './slurm';
import { WizardState } from './wizardState';

/** What the Environment step (and the Slurm settings it loads) can do. */
export abstract class EnvironmentSteps extends WizardState {
  /** List the server's environments (refresh: probe again, bypassing the cache). */
  async loadEnvironments(refresh = false): Promise<void> {
    if (this._isDisposed || this._environment.status === 'loading') {
      return;
    }
    this._environment = { ...this._environment, status: 'loading', error: null };
    this._emit();
    try {
      const environments = await this._api.listEnvironments(this.server, { refresh });
      const current = this._environment;
      // a typed path (an edited profile's) that is listed becomes that entry
      const listed = current.useCustom
        ? environments.find(e => e.kind !== 'kernelspec' && e.python === current.customPath.trim())
        : undefined;
      const selected = listed ? envKey(listed) : preselect(environments, current.selected);
      const useCustom = listed ? false : current.useCustom;
      this._environment = { ...current, status: 'ok', environments, selected, useCustom };
    } catch (error) {
      this._environment = { ...this._environment, status: 'error', error: toRemoteError(error) };
    }
    this._emit();
    if (this._environment.status === 'ok') {
      void this.loadSlurm(refresh); // the same probe found it: from its cache
    }
  }

  // ---------------------------------------------------------------- slurm

  /** The server's Slurm (partitions, limits, idle nodes, accounts) from the probe. */
  async loadSlurm(refresh = false): Promise<void> {
    if (this._isDisposed || this._slurm.status === 'loading') {
      return;
    }
    this._slurm = { ...this._slurm, status: 'loading', error: null };
    this._emit();
    try {
      const cluster = clusterOf(await this._api.getServerSlurm(this.server, { refresh }));
      const partition = this._slurm.partition || defaultPartition(cluster);
      this._slurm = { ...this._slurm, status: 'ok', cluster, partition };
    } catch (error) {
      this._slurm = { ...this._slurm, status: 'error', error: toRemoteError(error) };
    }
    this._emit();
  }

  /** Change the Slurm settings; turning them on makes an idle kernel stop (1 h) by default. */
  setSlurm(patch: Partial<ISlurmState>): void {
    if (patch.enabled && !this._slurm.enabled && this._review.idleTimeout === 0) {
      this._review = { ...this._review, idleTimeout: SLURM_IDLE_TIMEOUT };
    }
    this._slurm = { ...this._slurm, ...patch };
    const fieldErrors = { ...this._review.fieldErrors };
    for (const key of Object.keys(patch)) {
      delete fieldErrors[`slurm.${key === 'noticeMinutes' ? 'notice_minutes' : key}`];
    }
    this._review = { ...this._review, fieldErrors };
    this._emit();
  }

  /** Choose a listed environment (by envKey). */
  select(key: string): void {
    this._setEnvironment({ selected: key, useCustom: false });
  }

  /** Type a custom interpreter path (and choose it). */
  setCustomPath(path: string): void {
    this._setEnvironment({ customPath: path, useCustom: true });
  }

  /** Choose between the list and the custom path. */
  setUseCustom(useCustom: boolean): void {
    this._setEnvironment({ useCustom });
  }

  /** pip-install ipykernel into `python`, streaming pip's output; then re-list. */
  async installIpykernel(python: string): Promise<boolean> {
    const current = this._environment.install;
    if (this._isDisposed || !python || (current && current.status === 'running')) {
      return false;
    }
    this._setEnvironment({ install: { python, lines: [], status: 'running', error: null } });
    const append = (line: string): void => {
      const install = this._environment.install;
      if (install && install.python === python) {
        this._setEnvironment({ install: { ...install, lines: [...install.lines, line] } });
      }
    };
    let ok = false;
    try {
      await this._api.installIpykernel(this.server, python, append);
      ok = true;
      this._setEnvironment({ install: { ...this._environment.install!, status: 'done' } });
    } catch (error) {
      const install = { ...this._environment.install!, status: 'error' as const, error: toRemoteError(error) };
      this._setEnvironment({ install });
    }
    if (ok) {
      await this.loadEnvironments(true);
    }
    return ok;
  }

  /** Open the Create environment form from a base interpreter. */
  openCreate(base: string): void {
    if (this._environment.create?.status === 'running') {
      return;
    }
    if (this._step !== 'environment') {
      this._go('environment');
    }
    this._setEnvironment({
      create: { base, name: '', tool: 'venv', lines: [], status: 'editing', error: null }
    });
  }

  /** Change the Create environment form. */
  setCreate(patch: { base?: string; name?: string; tool?: EnvironmentTool }): void {
    const create = this._environment.create;
    if (create && create.status !== 'running') {
      this._setEnvironment({ create: { ...create, ...patch, status: 'editing', error: null } });
    }
  }

  /** Close the Create environment form (not while it runs). */
  closeCreate(): void {
    if (this._environment.create?.status !== 'running') {
      this._setEnvironment({ create: null });
    }
  }

  /**
   * Create the environment on the server, streaming its output; then list the
   * environments again and choose the new one.
   */
  async createEnvironment(): Promise<boolean> {
    const create = this._environment.create;
    if (this._isDisposed || !create || create.status === 'running' || !create.base.trim()) {
      return false;
    }
    this._setEnvironment({ create: { ...create, lines: [], status: 'running', error: null } });
    const append = (line: string): void => {
      const now = this._environment.create;
      if (now) {
        this._setEnvironment({ create: { ...now, lines: [...now.lines, line] } });
      }
    };
    let created: IEnvironmentCreated | null = null;
    try {
      created = await this._api.createEnvironment(
        this.server,
        { python: create.base.trim(), name: create.name.trim() || null, tool: create.tool },
        append
      );
      this._setEnvironment({ create: { ...this._environment.create!, status: 'done' } });
    } catch (error) {
      const failed = { ...this._environment.create!, status: 'error' as const, error: toRemoteError(error) };
      this._setEnvironment({ create: failed });
      return false;
    }
    await this.loadEnvironments(true);
    const made = this._environment.environments.find(e => e.python === created!.python);
    this._setEnvironment(
      made ? { selected: envKey(made), useCustom: false } : { customPath: created.python, useCustom: true }
    );
    if (this._review.status === 'error' && this.needsNewEnvironment) {
      this._review = { ...this._review, status: 'idle', error: null };
    }
    return true;
  }
}
