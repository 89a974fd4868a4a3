import * as React from 'react';

import { IDLE_TIMEOUTS, IEnvVarRow, IReviewState } from '../../wizard';
import { ErrorBox } from '../ErrorBox';
import { Loading } from '../Loading';
import { formatDuration } from '../format';

export interface IReviewStepProps {
  server: string;
  /** Interpreter path, or `kernelspec NAME`. */
  environment: string;
  review: Readonly<IReviewState>;
  needsIpykernel: boolean;
  onName: (name: string) => void;
  onCwd: (cwd: string) => void;
  onIdleTimeout: (seconds: number) => void;
  onAddEnvVar: () => void;
  onEnvVar: (index: number, row: Partial<IEnvVarRow>) => void;
  onRemoveEnvVar: (index: number) => void;
  onStart: () => void;
  onInstallAndStart: () => void;
  onOpenNotebook: (kernelName: string) => void;
  onClose: () => void;
}

/** Step 3: name the profile, where and how it runs; Start saves it. */
export function ReviewStep(props: IReviewStepProps): JSX.Element {
  const { server, environment, review, needsIpykernel } = props;
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
        props.onStart();
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
          onChange={e => props.onName(e.target.value)}
          disabled={saving}
          spellCheck={false}
          required
          {...fieldProps('name')}
        />
        <span className="jp-remote-Field-help">
          The kernel will be <code>remote-{review.name.toLowerCase() || 'NAME'}</code>.
        </span>
        {fieldError('name')}
      </div>
      <div className={`jp-remote-Field${errors.cwd ? ' jp-mod-invalid' : ''}`}>
        <label htmlFor="jp-remote-review-cwd">Working directory on the server</label>
        <input
          id="jp-remote-review-cwd"
          className="jp-mod-styled jp-remote-Input"
          value={review.cwd}
          placeholder="~ (your home directory)"
          onChange={e => props.onCwd(e.target.value)}
          disabled={saving}
          spellCheck={false}
          {...fieldProps('cwd')}
        />
        {fieldError('cwd')}
      </div>
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
              onChange={e => props.onEnvVar(index, { key: e.target.value })}
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
              onChange={e => props.onEnvVar(index, { value: e.target.value })}
              disabled={saving}
              spellCheck={false}
            />
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-remote-SmallButton"
              aria-label={`Remove variable ${row.key || index + 1}`}
              onClick={() => props.onRemoveEnvVar(index)}
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
          onClick={props.onAddEnvVar}
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
          onChange={e => props.onIdleTimeout(Number(e.target.value))}
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
      {saving && <Loading label="Checking the environment and saving the profile…" />}
      {review.status === 'error' && review.error && (
        <ErrorBox error={review.error} title="Saving the profile" onRetry={props.onStart} retryLabel="Retry saving the profile">
          {needsIpykernel && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-accept"
              onClick={props.onInstallAndStart}
            >
              Install ipykernel and start
            </button>
          )}
        </ErrorBox>
      )}
      {/* Enter in a field submits: Start */}
      <button type="submit" hidden tabIndex={-1} aria-hidden="true" />
    </form>
  );
}
