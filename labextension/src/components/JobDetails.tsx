import * as React from 'react';

import { ISlurmJob } from '../tokens';
import { formatElapsed } from './format';

export interface IJobDetailsProps {
  job: ISlurmJob;
  /** The session's state: queued, running, dead, ... */
  state: string;
  /** The sidebar's clock (epoch ms): time left counts down with it. */
  nowMs: number;
}

/** When a time (epoch s) is, in the user's locale: `14:05` today, else with the date. */
export function formatWhen(epochS: number, nowMs: number): string {
  const when = new Date(epochS * 1000);
  const sameDay = when.toDateString() === new Date(nowMs).toDateString();
  return sameDay
    ? when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : when.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * A kernel's Slurm job on its card: the job id (and partition), then while queued
 * its estimated start, while running its node and time left, once dead its exit code.
 */
export function JobDetails({ job, state, nowMs }: IJobDetailsProps): JSX.Element {
  const left = job.end !== null ? job.end - nowMs / 1000 : null;
  const running = state !== 'queued' && state !== 'dead' && state !== 'stopped';
  return (
    <>
      <div className="jp-remote-Detail">
        <dt>Slurm job</dt>
        <dd className="jp-remote-Session-job">
          <code>{job.id}</code>
          {job.partition ? ` (${job.partition})` : ''}
        </dd>
      </div>
      {state === 'queued' && (
        <div className="jp-remote-Detail">
          <dt>Starts</dt>
          <dd>{job.start ? `about ${formatWhen(job.start, nowMs)}` : 'not estimated yet'}</dd>
        </div>
      )}
      {running && job.node && (
        <div className="jp-remote-Detail">
          <dt>Node</dt>
          <dd>
            <code>{job.node}</code>
          </dd>
        </div>
      )}
      {running && left !== null && (
        <div className="jp-remote-Detail">
          <dt>Time left</dt>
          <dd className="jp-remote-Session-timeLeft" title={`The job's time limit ends it at ${formatWhen(job.end ?? 0, nowMs)}`}>
            {formatElapsed(left)}
          </dd>
        </div>
      )}
      {state === 'dead' && job.exit_code && (
        <div className="jp-remote-Detail">
          <dt>Exit code</dt>
          <dd>
            <code>{job.exit_code}</code>
          </dd>
        </div>
      )}
    </>
  );
}
