import * as React from 'react';

import { EnvironmentTool, IEnvironment } from '../../tokens';
import { envKey } from '../../wizard/environments';
import { WizardModel } from '../../wizard/model';
import { ErrorBox } from '../ErrorBox';
import { Loading } from '../Loading';

/** What the Environment step reads and calls of the wizard model. */
export type EnvironmentStepModel = Pick<
  WizardModel,
  | 'server'
  | 'environment'
  | 'groups'
  | 'loadEnvironments'
  | 'select'
  | 'setCustomPath'
  | 'setUseCustom'
  | 'installIpykernel'
  | 'openCreate'
  | 'setCreate'
  | 'closeCreate'
  | 'createEnvironment'
>;

export interface IEnvironmentStepProps {
  model: EnvironmentStepModel;
}

/** `Python 3.11.2`, or the kernel's language for a kernelspec. */
function versionText(env: IEnvironment): string {
  if (env.kind === 'kernelspec') {
    return env.language ? `${env.language} kernel` : 'kernel';
  }
  return env.version ? `Python ${env.version}` : 'Python (version unknown)';
}

/** Step 2: choose where kernels run. */
/** The way out of a system Python that refuses pip (PEP 668): a new environment from it.
 * Offered here after a refused install and by the review step. */
export function CreateEnvironmentButton({ onClick }: { onClick: () => void }): JSX.Element {
  return (
    <button type="button" className="jp-Button jp-mod-styled jp-mod-accept" onClick={onClick}>
      Create an environment from it
    </button>
  );
}

export function EnvironmentStep({ model }: IEnvironmentStepProps): JSX.Element {
  const { server, environment, groups } = model;
  const onRefresh = (): void => void model.loadEnvironments(true);
  const onSelect = (key: string): void => model.select(key);
  const onCustomPath = (path: string): void => model.setCustomPath(path);
  const onUseCustom = (useCustom: boolean): void => model.setUseCustom(useCustom);
  const onInstall = (python: string): void => void model.installIpykernel(python);
  const { status, error, selected, customPath, useCustom, install, create } = environment;
  const installing = install?.status === 'running';
  const radioName = `jp-remote-env-${server}`;
  const customId = `jp-remote-env-custom-${server}`;
  const logRef = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const log = logRef.current;
    if (log) {
      log.scrollTop = log.scrollHeight;
    }
  }, [install?.lines.length]);

  return (
    <div className="jp-remote-EnvironmentStep">
      <div className="jp-remote-StepToolbar">
        <p className="jp-remote-Note">
          Python environments found on <strong>{server}</strong>. The profile&apos;s kernels run
          in the one you choose; it needs <code>ipykernel</code>.
        </p>
        <button
          type="button"
          className="jp-Button jp-mod-styled"
          onClick={onRefresh}
          disabled={status === 'loading'}
          aria-label="Refresh environments (look on the server again)"
        >
          {status === 'loading' ? 'Looking…' : 'Refresh'}
        </button>
      </div>
      {status === 'loading' && <Loading label={`Looking for Python environments on ${server}…`} />}
      {status === 'error' && error && (
        <ErrorBox
          error={error}
          title="Listing the environments"
          onRetry={onRefresh}
          retryLabel="Retry listing the environments"
        />
      )}
      <fieldset className="jp-remote-EnvChoice">
        <legend>Environment</legend>
        {status === 'ok' && groups.length === 0 && (
          <p className="jp-remote-EmptyState">
            No Python environment was found on {server}. Type the path of an
            interpreter below, or create one on the server (e.g.{' '}
            <code>python3 -m venv ~/venv &amp;&amp; ~/venv/bin/pip install ipykernel</code>) and
            Refresh.
          </p>
        )}
        {groups.map(group => (
          <div
            key={group.kind}
            className="jp-remote-EnvGroup"
            role="group"
            aria-labelledby={`${radioName}-${group.kind}`}
          >
            <h4 id={`${radioName}-${group.kind}`} className="jp-remote-EnvGroup-title">
              {group.label}
            </h4>
            <ul className="jp-remote-EnvList">
              {group.environments.map(env => {
                const key = envKey(env);
                const id = `${radioName}-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
                const usable = env.kind === 'kernelspec' || env.ipykernel;
                const checked = !useCustom && selected === key;
                return (
                  <li key={key} className={`jp-remote-Env${checked ? ' jp-mod-selected' : ''}`}>
                    <input
                      type="radio"
                      id={id}
                      name={radioName}
                      value={key}
                      checked={checked}
                      onChange={() => onSelect(key)}
                    />
                    <label htmlFor={id} className="jp-remote-Env-label">
                      <span className="jp-remote-Env-name">
                        {env.display_name || env.name || env.python}
                      </span>
                      <span className="jp-remote-Env-version">{versionText(env)}</span>
                      {env.kind !== 'kernelspec' && (
                        <span
                          className={`jp-remote-Env-ipykernel ${
                            env.ipykernel ? 'jp-mod-ok' : 'jp-mod-missing'
                          }`}
                        >
                          <span aria-hidden="true">{env.ipykernel ? '✓ ' : '✗ '}</span>
                          {env.ipykernel ? 'ipykernel installed' : 'ipykernel missing'}
                        </span>
                      )}
                      <code className="jp-remote-Env-path">{env.python}</code>
                      {env.error && (
                        <span className="jp-remote-Env-error">
                          <span aria-hidden="true">⚠ </span>Could not check it: {env.error}
                        </span>
                      )}
                    </label>
                    {!usable && (
                      <div className="jp-remote-Env-actions">
                        <button
                          type="button"
                          className="jp-Button jp-mod-styled jp-remote-SmallButton"
                          aria-label={`Install ipykernel into ${env.python}`}
                          onClick={() => onInstall(env.python)}
                          disabled={installing}
                        >
                          Install ipykernel
                        </button>
                        {!env.error && (
                          <button
                            type="button"
                            className="jp-Button jp-mod-styled jp-remote-SmallButton"
                            aria-label={`Create a new environment from ${env.python}`}
                            onClick={() => model.openCreate(env.python)}
                          >
                            New environment from it
                          </button>
                        )}
                      </div>
                    )}
                  </li>
                );
              })}
            </ul>
          </div>
        ))}
        <div className={`jp-remote-Env jp-remote-EnvCustom${useCustom ? ' jp-mod-selected' : ''}`}>
          <input
            type="radio"
            id={`${customId}-radio`}
            name={radioName}
            checked={useCustom}
            onChange={() => onUseCustom(true)}
          />
          <label htmlFor={`${customId}-radio`} className="jp-remote-Env-label">
            <span className="jp-remote-Env-name">Another interpreter</span>
          </label>
          <input
            id={customId}
            type="text"
            className="jp-mod-styled jp-remote-Input"
            aria-label="Path of a Python interpreter on the server"
            placeholder="/opt/conda/envs/torch/bin/python"
            value={customPath}
            spellCheck={false}
            onChange={event => onCustomPath(event.target.value)}
            onFocus={() => onUseCustom(true)}
          />
          {useCustom && customPath.trim() && (
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-remote-SmallButton"
              aria-label={`Install ipykernel into ${customPath.trim()}`}
              onClick={() => onInstall(customPath.trim())}
              disabled={installing}
            >
              Install ipykernel
            </button>
          )}
        </div>
      </fieldset>
      {install && (
        <section className="jp-remote-InstallLog" aria-labelledby="jp-remote-install-title">
          <h4 id="jp-remote-install-title">
            {install.status === 'running'
              ? 'Installing ipykernel into '
              : install.status === 'done'
                ? '✓ ipykernel installed into '
                : 'Installing ipykernel failed for '}
            <code>{install.python}</code>
          </h4>
          {install.status === 'running' && <Loading label="pip is running…" />}
          <pre ref={logRef} className="jp-remote-InstallLog-output" role="log" aria-label="pip output">
            {install.lines.join('\n') || (install.status === 'running' ? 'Waiting for pip…' : '')}
          </pre>
          {install.status === 'error' && install.error && (
            <ErrorBox
              error={install.error}
              onRetry={install.error.reason === 'externally_managed' ? undefined : () => onInstall(install.python)}
              retryLabel="Retry installing ipykernel"
            >
              {install.error.reason === 'externally_managed' && (
                <CreateEnvironmentButton onClick={() => model.openCreate(install.python)} />
              )}
            </ErrorBox>
          )}
        </section>
      )}
      {create && <CreateEnvironment model={model} />}
    </div>
  );
}

/** The tools offered to make an environment. */
const TOOLS: ReadonlyArray<{ tool: EnvironmentTool; label: string }> = [
  { tool: 'venv', label: 'venv (python -m venv)' },
  { tool: 'uv', label: 'uv' },
  { tool: 'conda', label: 'conda' }
];

/** Make a new environment with ipykernel on the server, its output streamed. */
function CreateEnvironment({ model }: IEnvironmentStepProps): JSX.Element | null {
  const create = model.environment.create;
  const logRef = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const log = logRef.current;
    if (log) {
      log.scrollTop = log.scrollHeight;
    }
  }, [create?.lines.length]);
  if (!create) {
    return null;
  }
  const running = create.status === 'running';
  const id = 'jp-remote-create-env';
  return (
    <section className="jp-remote-CreateEnv" aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>New environment for Jupyter</h4>
      <p className="jp-remote-Note">
        Made on {model.server} from the Python below, with <code>ipykernel</code>: under{' '}
        <code>~/.virtualenvs/</code> (venv, uv) or <code>~/.conda/envs/</code> (conda). Use this
        where pip may not install into a system Python.
      </p>
      <form
        className="jp-remote-CreateEnv-form"
        aria-label="New environment"
        noValidate
        onSubmit={event => {
          event.preventDefault();
          void model.createEnvironment();
        }}
      >
        <div className="jp-remote-Field">
          <label htmlFor={`${id}-base`}>Base Python</label>
          <input
            id={`${id}-base`}
            className="jp-mod-styled jp-remote-Input"
            value={create.base}
            spellCheck={false}
            disabled={running}
            onChange={e => model.setCreate({ base: e.target.value })}
          />
        </div>
        <div className="jp-remote-FieldRow">
          <div className="jp-remote-Field">
            <label htmlFor={`${id}-name`}>Name</label>
            <input
              id={`${id}-name`}
              className="jp-mod-styled jp-remote-Input"
              value={create.name}
              placeholder="jupyter-3.X"
              spellCheck={false}
              disabled={running}
              onChange={e => model.setCreate({ name: e.target.value })}
            />
          </div>
          <div className="jp-remote-Field">
            <label htmlFor={`${id}-tool`}>With</label>
            <select
              id={`${id}-tool`}
              className="jp-mod-styled jp-remote-Select"
              value={create.tool}
              disabled={running}
              onChange={e => model.setCreate({ tool: e.target.value as EnvironmentTool })}
            >
              {TOOLS.map(t => (
                <option key={t.tool} value={t.tool}>
                  {t.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="jp-remote-Actions">
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-remote-SmallButton"
            disabled={running || !create.base.trim()}
          >
            {running ? 'Creating…' : 'Create environment'}
          </button>
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-remote-SmallButton"
            onClick={() => model.closeCreate()}
            disabled={running}
          >
            Close
          </button>
        </div>
      </form>
      {running && <Loading label="Creating the environment and installing ipykernel…" />}
      {create.status === 'done' && (
        <p className="jp-remote-Success" role="status">
          <span aria-hidden="true">✓ </span>Environment created and chosen.
        </p>
      )}
      {(create.lines.length > 0 || running) && (
        <pre ref={logRef} className="jp-remote-InstallLog-output" role="log" aria-label="Environment creation output">
          {create.lines.join('\n') || 'Starting…'}
        </pre>
      )}
      {create.status === 'error' && create.error && (
        <ErrorBox
          error={create.error}
          onRetry={() => void model.createEnvironment()}
          retryLabel="Retry creating the environment"
        />
      )}
    </section>
  );
}
