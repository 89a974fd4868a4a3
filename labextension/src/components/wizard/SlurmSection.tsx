import * as React from 'react';

import { WizardModel } from '../../wizard/model';
import { ISlurmState, partitionLabel } from '../../wizard/slurm';

/** What the Slurm section reads and calls of the wizard model. */
export type SlurmSectionModel = Pick<WizardModel, 'slurm' | 'setSlurm' | 'review'>;

export interface ISlurmSectionProps {
  model: SlurmSectionModel;
  disabled: boolean;
}

type TextField = 'time' | 'cpus' | 'memory' | 'gres' | 'qos' | 'reservation' | 'noticeMinutes';

const FIELDS: ReadonlyArray<{ key: TextField; error: string; label: string; placeholder: string; help?: string }> = [
  { key: 'time', error: 'time', label: 'Time limit', placeholder: '60', help: 'Minutes, H:MM:SS or D-HH:MM.' },
  { key: 'cpus', error: 'cpus', label: 'CPUs', placeholder: 'the partition’s default' },
  { key: 'memory', error: 'memory', label: 'Memory', placeholder: 'e.g. 8G' },
  { key: 'gres', error: 'gres', label: 'GPUs (gres)', placeholder: 'e.g. gpu:1' },
  { key: 'qos', error: 'qos', label: 'QOS', placeholder: 'the default' },
  { key: 'reservation', error: 'reservation', label: 'Reservation', placeholder: 'none' },
  {
    key: 'noticeMinutes',
    error: 'notice_minutes',
    label: 'Warn before the time limit (minutes)',
    placeholder: '10',
    help: 'The notebook is told this long before the job ends (0: never).'
  }
];

/**
 * "Run in a Slurm job", offered on the Review step when the server's probe found
 * Slurm: the partitions (with their limits and idle nodes), the user's accounts,
 * and what the job asks for. Nothing here is shown for a server without Slurm.
 */
export function SlurmSection({ model, disabled }: ISlurmSectionProps): JSX.Element | null {
  const slurm = model.slurm;
  const cluster = slurm.cluster;
  if (!cluster && !slurm.enabled) {
    return null;
  }
  const errors = model.review.fieldErrors;
  const set = (patch: Partial<ISlurmState>): void => model.setSlurm(patch);
  const invalid = (name: string) => ({
    'aria-invalid': errors[`slurm.${name}`] ? true : undefined,
    'aria-describedby': errors[`slurm.${name}`] ? `jp-remote-slurm-${name}-error` : undefined
  });
  const fieldError = (name: string): JSX.Element | null =>
    errors[`slurm.${name}`] ? (
      <span className="jp-remote-Field-error" id={`jp-remote-slurm-${name}-error`}>
        <span aria-hidden="true">⚠ </span>
        {errors[`slurm.${name}`]}
      </span>
    ) : null;
  const partitions = cluster?.partitions ?? [];
  const accounts = cluster?.accounts ?? [];
  return (
    <fieldset className="jp-remote-Field jp-remote-Slurm">
      <legend>Slurm{cluster?.version ? ` ${cluster.version}` : ''}</legend>
      <label className="jp-remote-Checkbox">
        <input
          type="checkbox"
          checked={slurm.enabled}
          onChange={e => set({ enabled: e.target.checked })}
          disabled={disabled}
        />
        Run the kernel in a Slurm job (this server is the cluster’s login node)
      </label>
      {slurm.enabled && (
        <>
          <p className="jp-remote-Field-help">
            The kernel runs inside the job on a compute node; its card shows the job queued, then
            running with its time left. Stop cancels the job.
          </p>
          <div className={`jp-remote-Field${errors['slurm.partition'] ? ' jp-mod-invalid' : ''}`}>
            <label htmlFor="jp-remote-slurm-partition">Partition</label>
            {partitions.length > 0 ? (
              <select
                id="jp-remote-slurm-partition"
                className="jp-mod-styled jp-remote-Select"
                value={slurm.partition}
                onChange={e => set({ partition: e.target.value })}
                disabled={disabled}
                {...invalid('partition')}
              >
                {!partitions.some(p => p.name === slurm.partition) && (
                  <option value={slurm.partition}>{slurm.partition || 'the default partition'}</option>
                )}
                {partitions.map(p => (
                  <option key={p.name} value={p.name}>
                    {partitionLabel(p)}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id="jp-remote-slurm-partition"
                className="jp-mod-styled jp-remote-Input"
                value={slurm.partition}
                placeholder="the default partition"
                onChange={e => set({ partition: e.target.value })}
                disabled={disabled}
                spellCheck={false}
                {...invalid('partition')}
              />
            )}
            {fieldError('partition')}
          </div>
          <div className={`jp-remote-Field${errors['slurm.account'] ? ' jp-mod-invalid' : ''}`}>
            <label htmlFor="jp-remote-slurm-account">Account</label>
            <input
              id="jp-remote-slurm-account"
              className="jp-mod-styled jp-remote-Input"
              value={slurm.account}
              list="jp-remote-slurm-accounts"
              placeholder={accounts.length ? accounts[0].account : 'your default account'}
              onChange={e => set({ account: e.target.value })}
              disabled={disabled}
              spellCheck={false}
              {...invalid('account')}
            />
            <datalist id="jp-remote-slurm-accounts">
              {accounts.map(a => (
                <option key={a.account} value={a.account} />
              ))}
            </datalist>
            {fieldError('account')}
          </div>
          {FIELDS.map(f => (
            <div key={f.key} className={`jp-remote-Field${errors[`slurm.${f.error}`] ? ' jp-mod-invalid' : ''}`}>
              <label htmlFor={`jp-remote-slurm-${f.error}`}>{f.label}</label>
              <input
                id={`jp-remote-slurm-${f.error}`}
                className="jp-mod-styled jp-remote-Input"
                value={slurm[f.key]}
                placeholder={f.placeholder}
                onChange={e => set({ [f.key]: e.target.value })}
                disabled={disabled}
                spellCheck={false}
                {...invalid(f.error)}
              />
              {f.help && <span className="jp-remote-Field-help">{f.help}</span>}
              {fieldError(f.error)}
            </div>
          ))}
          <div className={`jp-remote-Field${errors['slurm.extra'] ? ' jp-mod-invalid' : ''}`}>
            <label htmlFor="jp-remote-slurm-extra">More sbatch options</label>
            <textarea
              id="jp-remote-slurm-extra"
              className="jp-mod-styled jp-remote-Input"
              rows={2}
              value={slurm.extra}
              placeholder="--constraint=a100"
              onChange={e => set({ extra: e.target.value })}
              disabled={disabled}
              spellCheck={false}
              {...invalid('extra')}
            />
            <span className="jp-remote-Field-help">One per line, long form. Each reaches sbatch as one argument.</span>
            {fieldError('extra')}
          </div>
          {cluster?.errors.map(note => (
            <p key={note} className="jp-remote-Note">
              {note}
            </p>
          ))}
        </>
      )}
    </fieldset>
  );
}
