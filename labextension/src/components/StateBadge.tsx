import * as React from 'react';

/** Text and glyph of each session state: never colour alone. */
const STATES: Record<string, { label: string; glyph: string; help: string }> = {
  connecting: {
    label: 'Connecting',
    glyph: '◌',
    help: 'Opening the SSH link and starting the kernel.'
  },
  queued: {
    label: 'Queued',
    glyph: '⧗',
    help: "The kernel's Slurm job waits in the queue; see why, and when it may start. Stop cancels it."
  },
  running: { label: 'Running', glyph: '●', help: 'The kernel runs and is reachable.' },
  reconnecting: {
    label: 'Reconnecting',
    glyph: '↻',
    help: 'The link was lost; the kernel keeps running remotely while it comes back.'
  },
  degraded: {
    label: 'Degraded',
    glyph: '▲',
    help: 'Reachable, but something is not right; see the reason.'
  },
  disconnected: {
    label: 'Disconnected',
    glyph: '✕',
    help: 'Not reconnecting by itself; see the reason, then Retry or Stop.'
  },
  dead: {
    label: 'Dead',
    glyph: '⊘',
    help: "The scheduler ended the kernel's Slurm job (time limit, memory, node failure, cancelled); see why."
  },
  stopped: { label: 'Stopped', glyph: '■', help: 'The kernel was stopped.' }
};

/** The words for a state (unknown states are shown as they are). */
export function stateLabel(state: string): string {
  return STATES[state]?.label ?? state;
}

export interface IStateBadgeProps {
  state: string;
}

/** A session state as glyph + text + colour. */
export function StateBadge({ state }: IStateBadgeProps): JSX.Element {
  const info = STATES[state] ?? { label: state, glyph: '?', help: '' };
  const known = STATES[state] ? state : 'unknown';
  return (
    <span
      className={`jp-remote-StateBadge jp-remote-StateBadge-${known}`}
      title={info.help}
      data-state={state}
    >
      <span className="jp-remote-StateBadge-glyph" aria-hidden="true">
        {info.glyph}
      </span>
      <span className="jp-remote-StateBadge-label">{info.label}</span>
    </span>
  );
}
