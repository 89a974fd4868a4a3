import * as React from 'react';

import { WizardModel } from '../../wizard/model';
import { IDLE_TIMEOUTS } from '../../wizard/review';
import { ErrorBox } from '../ErrorBox';
import { Loading } from '../Loading';
import { formatDuration, gpuLoad } from '../format';
import { CreateEnvironmentButton } from './EnvironmentStep';
import { SlurmSection, SlurmSectionModel } from './SlurmSection';

/** What the Review step reads and calls of the wizard model. */
export type ReviewStepModel = Pick<
  WizardModel,
  | 'server'
  | 'review'
  | 'needsIpykernel'
  | 'needsNewEnvironment'
  | 'needsCwd'
  | 'editing'
  | 'gpus'
  | 'pinnedGpus'
  | 'chosenPython'
  | 'selectedEnvironment'
  | 'setName'
  | 'setCwd'
  | 'setIdleTimeout'
  | 'setDisplayName'
  | 'toggleGpu'
  | 'addEnvVar'
  | 'setEnvVar'
  | 'removeEnvVar'
  | 'save'
  | 'installAndSave'
  | 'createCwdAndSave'
  | 'openCreate'
> &
  // "Run in a Slurm job" (SlurmSection), when the model has it (the wizard's always does)
  Partial<Pick<WizardModel, 'slurm' | 'setSlurm' | 'setStandby'>>;

export interface IReviewStepProps {
  model: ReviewStepModel;
  onOpenNotebook: (kernelName: string) => void;
}

/** What the profile runs: the interpreter path, or `kernelspec NAME`. */
export function environmentText(model: Pick<WizardModel, 'selectedEnvironment' | 'chosenPython'>): string {
  const selected = model.selectedEnvironment;
  return selected && selected.kind === 'kernelspec'
    ? `kernelspec ${selected.name}`
    : model.chosenPython || '(none chosen)';
}

/** Step 3: name the profile, where and how it runs; Start saves it. */
export function ReviewStep(props: IReviewStepProps): JSX.Element {
  const { model } = props;
  const { server, review, needsIpykernel, needsNewEnvironment, needsCwd, editing } = model;
  const environment = environmentText(model);
  const saving = review.status === 'saving';
  const errors = review.fieldErrors;
  const nameRef = React.useRef<HTMLInputElement>(null);
  const openRef = React.useRef<HTMLButtonElement>(null);
  React.useEffect(() => {
    if (review.status === 'saved') {
      openRef.current?.focus();
    }
  }, [review.status]);

  if (review.status === 'saved' && review.profile) {
    const profile = review.profile;
    return (
      <div className="jp-remote-ReviewStep">
        <div className="jp-remote-Success" role="status">
          <p>
            <span aria-hidden="true">✓ </span>
            <strong>Profile {profile.name} saved.</strong>
          </p>
          {editing && (
            <p>
              New kernels of <strong>{profile.display_name ?? profile.kernel_name}</strong> use
              these settings; kernels running now keep theirs until they restart.
            </p>
          )}
          <p>
            The kernel <strong>{profile.display_name ?? profile.kernel_name}</strong>{' '}
            (<code>{profile.kernel_name}</code>) is now in the launcher and the kernel
            picker; it starts on {server} when a notebook uses it.
          </p>
        </div>
        <div className="jp-remote-Actions">
          <button
            ref={openRef}
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept"
            onClick={() => props.onOpenNotebook(profile.kernel_name)}
          >
            Open notebook
          </button>
        </div>
      </div>
    );
  }

  const fieldProps = (name: string) => ({
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby': errors[name] ? `jp-remote-review-${name}-error` : undefined
  });
  const fieldError = (name: string): JSX.Element | null =>
    errors[name] ? (
      <span className="jp-remote-Field-error" id={`jp-remote-review-${name}-error`}>
        <span aria-hidden="true">⚠ </span>
        {errors[name]}
      </span>
    ) : null;
  const known = IDLE_TIMEOUTS.some(t => t.seconds === review.idleTimeout);

  return (
    <form
      className="jp-remote-ReviewStep"
      aria-label="Profile"
      onSubmit={event => {
        event.preventDefault();
        void model.save();
      }}
      noValidate
    >
      <dl className="jp-remote-Details jp-remote-Details-wide">
        <div className="jp-remote-Detail">
          <dt>Server</dt>
          <dd>{server}</dd>
        </div>
        <div className="jp-remote-Detail">
          <dt>Environment</dt>
          <dd>
            <code>{environment}</code>
          </dd>
        </div>
      </dl>
      <div className={`jp-remote-Field${errors.name ? ' jp-mod-invalid' : ''}`}>
        <label htmlFor="jp-remote-review-name">Profile name</label>
        <input
          id="jp-remote-review-name"
          ref={nameRef}
          className="jp-mod-styled jp-remote-Input"
          value={review.name}
          onChange={e => model.setName(e.target.value)}
          disabled={saving || editing !== null}
          spellCheck={false}
          required
          {...fieldProps('name')}
        />
        <span className="jp-remote-Field-help">
          {editing ? 'A profile keeps its name; the kernel is ' : 'The kernel will be '}
          <code>remote-{review.name.toLowerCase() || 'NAME'}</code>.
        </span>
        {fieldError('name')}
      </div>
      <div className={`jp-remote-Field${errors.display_name ? ' jp-mod-invalid' : ''}`}>
        <label htmlFor="jp-remote-review-display">Name in the launcher (optional)</label>
        <input
          id="jp-remote-review-display"
          className="jp-mod-styled jp-remote-Input"
          value={review.displayName}
          placeholder="automatic: Python X.Y · environment — server (profile, folder)"
          onChange={e => model.setDisplayName(e.target.value)}
          disabled={saving}
          {...fieldProps('display_name')}
        />
        {fieldError('display_name')}
      </div>
      <div className={`jp-remote-Field${errors.cwd ? ' jp-mod-invalid' : ''}`}>
        <label htmlFor="jp-remote-review-cwd">Working directory on the server</label>
        <input
          id="jp-remote-review-cwd"
          className="jp-mod-styled jp-remote-Input"
          value={review.cwd}
          placeholder="~ (your home directory)"
          onChange={e => model.setCwd(e.target.value)}
          disabled={saving}
          spellCheck={false}
          {...fieldProps('cwd')}
        />
        {fieldError('cwd')}
      </div>
      {model.gpus.length > 0 && <GpuPicker model={model} disabled={saving} />}
      <fieldset className={`jp-remote-Field jp-remote-EnvVars${errors.env ? ' jp-mod-invalid' : ''}`}>
        <legend>Environment variables</legend>
        {review.envVars.length === 0 && (
          <p className="jp-remote-Note">None. The kernel gets the server&apos;s usual environment.</p>
        )}
        {review.envVars.map((row, index) => (
          <div className="jp-remote-EnvVarRow" key={index}>
            <input
              className="jp-mod-styled jp-remote-Input"
              aria-label={`Name of variable ${index + 1}`}
              placeholder="NAME"
              value={row.key}
              onChange={e => model.setEnvVar(index, { key: e.target.value })}
              disabled={saving}
              spellCheck={false}
              {...fieldProps('env')}
            />
            <span aria-hidden="true">=</span>
            <input
              className="jp-mod-styled jp-remote-Input"
              aria-label={`Value of variable ${index + 1}`}
              placeholder="value"
              value={row.value}
              onChange={e => model.setEnvVar(index, { value: e.target.value })}
              disabled={saving}
              spellCheck={false}
            />
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-remote-SmallButton"
              aria-label={`Remove variable ${row.key || index + 1}`}
              onClick={() => model.removeEnvVar(index)}
              disabled={saving}
            >
              ✕
            </button>
          </div>
        ))}
        {fieldError('env')}
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-remote-SmallButton"
          onClick={() => model.addEnvVar()}
          disabled={saving}
        >
          Add variable
        </button>
      </fieldset>
      <div className={`jp-remote-Field${errors.idle_timeout ? ' jp-mod-invalid' : ''}`}>
        <label htmlFor="jp-remote-review-idle">Stop the kernel when idle for</label>
        <select
          id="jp-remote-review-idle"
          className="jp-mod-styled jp-remote-Select"
          value={String(review.idleTimeout)}
          onChange={e => model.setIdleTimeout(Number(e.target.value))}
          disabled={saving}
          {...fieldProps('idle_timeout')}
        >
          {!known && (
            <option value={String(review.idleTimeout)}>{formatDuration(review.idleTimeout)}</option>
          )}
          {IDLE_TIMEOUTS.map(t => (
            <option key={t.seconds} value={String(t.seconds)}>
              {t.label}
            </option>
          ))}
        </select>
        <span className="jp-remote-Field-help">
          Idle kernels stop themselves on the server, so nothing lingers on shared machines.
        </span>
        {fieldError('idle_timeout')}
      </div>
      {model.setStandby && !model.slurm?.enabled && (
        <div className={`jp-remote-Field${errors.standby ? ' jp-mod-invalid' : ''}`}>
          <label className="jp-remote-Checkbox">
            <input
              type="checkbox"
              checked={review.standby}
              onChange={e => model.setStandby?.(e.target.checked)}
              disabled={saving}
              {...fieldProps('standby')}
            />
            Keep a kernel ready (standby)
          </label>
          <span className="jp-remote-Field-help">
            One kernel of this profile waits on the server, started ahead: opening a notebook takes
            it at once, and another is started. It holds its memory there until used or idle-stopped.
          </span>
          {fieldError('standby')}
        </div>
      )}
      {model.slurm && model.setSlurm && <SlurmSection model={model as SlurmSectionModel} disabled={saving} />}
      {saving && <Loading label="Checking the environment and saving the profile…" />}
      {review.status === 'error' && review.error && (
        <ErrorBox error={review.error} title="Saving the profile" onRetry={() => void model.save()} retryLabel="Retry saving the profile">
          {needsCwd && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept"
              onClick={() => void model.createCwdAndSave()}
            >
              Create {review.cwd.trim()} and {editing ? 'save' : 'start'}
            </button>
          )}
          {needsNewEnvironment ? (
            <CreateEnvironmentButton onClick={() => model.openCreate(model.chosenPython)} />
          ) : (
            needsIpykernel && (
              <button
                type="button"
                className="jp-Button jp-mod-styled jp-mod-accept"
                onClick={() => void model.installAndSave()}
              >
                Install ipykernel and start
              </button>
            )
          )}
        </ErrorBox>
      )}
      {/* Enter in a field submits: Start */}
      <button type="submit" hidden tabIndex={-1} aria-hidden="true" />
    </form>
  );
}

/** Pin the profile's kernels to some of the server's GPUs (CUDA_VISIBLE_DEVICES). */
function GpuPicker({ model, disabled }: { model: ReviewStepModel; disabled: boolean }): JSX.Element {
  const pinned = model.pinnedGpus;
  return (
    <fieldset className="jp-remote-Field jp-remote-GpuPicker">
      <legend>GPUs the kernel may use</legend>
      <ul className="jp-remote-GpuList">
        {model.gpus.map(gpu => {
          const id = `jp-remote-review-gpu-${gpu.index}`;
          return (
            <li key={gpu.uuid}>
              <input
                type="checkbox"
                id={id}
                checked={pinned.includes(gpu.index)}
                onChange={() => model.toggleGpu(gpu.index)}
                disabled={disabled}
              />
              <label htmlFor={id}>
                <strong>GPU {gpu.index}</strong> {gpu.name}{' '}
                <span className="jp-remote-Note">{gpuLoad(gpu)}</span>
              </label>
            </li>
          );
        })}
      </ul>
      <span className="jp-remote-Field-help">
        {pinned.length
          ? `CUDA_VISIBLE_DEVICES=${pinned.join(',')} (numbered as nvidia-smi does).`
          : 'None ticked: the kernel sees every GPU.'}
      </span>
    </fieldset>
  );
}
