import * as React from 'react';

import { ISlurmJob } from '../tokens';
import { Detail } from './ServerItemFrame';
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
      <Detail term="Slurm job" className="jp-remote-Session-job">
        <code>{job.id}</code>
        {job.partition ? ` (${job.partition})` : ''}
      </Detail>
      {state === 'queued' && (
        <Detail term="Starts">{job.start ? `about ${formatWhen(job.start, nowMs)}` : 'not estimated yet'}</Detail>
      )}
      {running && job.node && (
        <Detail term="Node">
          <code>{job.node}</code>
        </Detail>
      )}
      {running && left !== null && (
        <Detail
          term="Time left"
          className="jp-remote-Session-timeLeft"
          title={`The job's time limit ends it at ${formatWhen(job.end ?? 0, nowMs)}`}
        >
          {formatElapsed(left)}
        </Detail>
      )}
      {state === 'dead' && job.exit_code && (
        <Detail term="Exit code">
          <code>{job.exit_code}</code>
        </Detail>
      )}
    </>
  );
}
