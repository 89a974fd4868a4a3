/**
 * The connect wizard of one server: Connect -> Environment -> Review.
 *
 * Connect tests the server (host key, login); an unknown key can be trusted
 * after the user compared its fingerprint; a changed key can NOT be accepted
 * here (the old entry must be removed first). Environment lists what the
 * server has, grouped by kind, and can install ipykernel or create a new
 * environment (for a system Python pip may not install into, PEP 668). Review
 * names the profile, its working directory (created on request when missing),
 * variables (a GPU picker sets CUDA_VISIBLE_DEVICES) and saves it through the
 * catalog, which refreshes the kernelspecs. With `profile`, the wizard edits
 * that profile: it opens on Review, prefilled, and saves with PATCH.
 */
import * as api from '../api';
import { toRemoteError } from '../api';
import { IProfile } from '../tokens';
import { afterFailedTest, afterFailedTrust } from './connect';
import { suggestProfileName } from './environments';
import { EnvironmentSteps } from './environmentSteps';
import { slurmInput, validateSlurm } from './slurm';
import { profileInput, saveFieldErrors, toggleGpu, validateReview } from './review';
import { IEnvVarRow, INITIAL_CONNECT, WIZARD_STEPS } from './state';
import { IWizardAPI, IWizardOptions } from './wizardState';

export namespace WizardModel {
  export type IAPI = IWizardAPI;
  export type IOptions = IWizardOptions;
}

/**
 * The connect wizard of one server. Its state and derived values are
 * WizardState's (wizardState.ts), the Environment step's actions
 * EnvironmentSteps' (environmentSteps.ts); here: navigation, Connect, Review, save.
 */
export class WizardModel extends EnvironmentSteps {
  constructor(options: WizardModel.IOptions) {
    super(options);
    if (this.editing) {
      void this.loadSlurm();
    }
  }

  /** Start the wizard: run the connection test. */
  start(): Promise<void> {
    return this.runTest();
  }

  /** Go to the previous step (editing: the environments load on the way). */
  back(): void {
    if (this.canGoBack) {
      const target = WIZARD_STEPS[this.stepIndex - 1];
      if (target === 'environment' && this._environment.status === 'idle') {
        void this.loadEnvironments();
      }
      this._go(target);
    }
  }

  /** Go to the next step (loads the environments on the way in). */
  next(): void {
    if (!this.canGoNext) {
      return;
    }
    const target = WIZARD_STEPS[this.stepIndex + 1];
    if (target === 'environment' && this._environment.status === 'idle') {
      void this.loadEnvironments();
    }
    if (target === 'review' && !this._nameEdited) {
      const chosen = this._environment.useCustom ? null : this.selectedEnvironment;
      this._review = { ...this._review, name: suggestProfileName(this.server, chosen, this._taken) };
    }
    this._go(target);
  }

  // -------------------------------------------------------------- connect

  /** Test the connection (again). */
  async runTest(): Promise<void> {
    if (this._isDisposed || this._connect.status === 'testing') {
      return;
    }
    this._connect = { ...INITIAL_CONNECT, status: 'testing', startedAt: this._now() };
    this._emit();
    try {
      const result = await this._api.testServer(this.server);
      this._connect = { ...this._connect, status: 'ok', result };
    } catch (error) {
      this._connect = afterFailedTest(this._connect, error);
    }
    this._connect.startedAt = null;
    this._emit();
  }

  /**
   * Trust the unknown key whose fingerprint the user saw, then test again.
   * Never available for a changed key.
   */
  async trust(): Promise<void> {
    const unknown = this._connect.unknown;
    if (this._connect.status !== 'hostkey_unknown' || !unknown) {
      return;
    }
    this._connect = { ...this._connect, status: 'trusting', error: null };
    this._emit();
    try {
      await this._api.trustHostKey(this.server, unknown.fingerprint);
    } catch (error) {
      this._connect = afterFailedTrust(this._connect, error);
      this._emit();
      return;
    }
    this._onHostKeyTrusted?.();
    await this.runTest();
  }

  /** Do not trust the unknown key. */
  cancelTrust(): void {
    if (this._connect.status === 'hostkey_unknown') {
      this._connect = { ...this._connect, status: 'cancelled' };
      this._emit();
    }
  }

  // --------------------------------------------------------------- review

  setName(name: string): void {
    this._nameEdited = true;
    this._setReview({ name }, 'name');
  }

  setCwd(cwd: string): void {
    this._setReview({ cwd }, 'cwd');
  }

  setIdleTimeout(seconds: number): void {
    this._setReview({ idleTimeout: seconds }, 'idle_timeout');
  }

  setDisplayName(displayName: string): void {
    this._setReview({ displayName }, 'display_name');
  }

  /** Keep one kernel of the profile started ahead on the remote, or not. */
  setStandby(standby: boolean): void {
    this._setReview({ standby }, 'standby');
  }

  /** Pin the profile to GPU `index`, or unpin it (the GPU picker). */
  toggleGpu(index: number): void {
    this._setReview({ envVars: toggleGpu(this._review.envVars, index) }, 'env');
  }

  addEnvVar(): void {
    this._setReview({ envVars: [...this._review.envVars, { key: '', value: '' }] }, 'env');
  }

  setEnvVar(index: number, row: Partial<IEnvVarRow>): void {
    const envVars = this._review.envVars.map((r, i) => (i === index ? { ...r, ...row } : r));
    this._setReview({ envVars }, 'env');
  }

  removeEnvVar(index: number): void {
    this._setReview({ envVars: this._review.envVars.filter((_, i) => i !== index) }, 'env');
  }

  /**
   * Start: save the profile (through the catalog, which refreshes the
   * kernelspecs); editing: PATCH it. `createCwd`: make a missing working
   * directory on the server.
   */
  async save(options: { createCwd?: boolean } = {}): Promise<IProfile | null> {
    if (this._isDisposed || this._review.status === 'saving') {
      return null;
    }
    const fieldErrors = { ...validateReview(this._review), ...validateSlurm(this._slurm) };
    if (Object.keys(fieldErrors).length) {
      this._review = { ...this._review, fieldErrors, status: 'idle', error: null };
      this._emit();
      return null;
    }
    this._review = { ...this._review, status: 'saving', error: null, fieldErrors: {} };
    this._emit();
    try {
      const input = profileInput(this.server, this._review, this._environment);
      input.slurm = slurmInput(this._slurm);
      let profile: IProfile;
      if (this.editing) {
        const { name, ...changes } = input;
        changes.display_name = changes.display_name ?? '';
        if (this._environment.status === 'idle') {
          // the Environment step was not opened: the interpreter stays as it is
          delete changes.python;
          delete changes.kernelspec;
        }
        profile = await this._api.updateProfile(name, changes, options);
      } else {
        profile = await this._api.addProfile(input, options);
      }
      this._taken.push(profile.name);
      this._review = { ...this._review, status: 'saved', profile };
      this._emit();
      await this._onProfileSaved?.(profile);
      return profile;
    } catch (error) {
      const remote = toRemoteError(error);
      this._managed = error instanceof api.RemoteAPIError && error.details.externally_managed === true;
      const fieldErrors = saveFieldErrors(error, remote);
      if (remote.field?.startsWith('slurm')) {
        fieldErrors[remote.field] = remote.message; // the Slurm settings' own fields
      }
      this._review = { ...this._review, status: 'error', error: remote, fieldErrors };
      this._emit();
      return null;
    }
  }

  /** Create the missing working directory on the server and save. */
  createCwdAndSave(): Promise<IProfile | null> {
    return this.save({ createCwd: true });
  }

  /** Install ipykernel into the chosen interpreter, then save again. */
  async installAndSave(): Promise<IProfile | null> {
    const python = this.chosenPython;
    if (!python) {
      return null;
    }
    const ok = await this.installIpykernel(python);
    return ok ? this.save() : null;
  }
}
