/**
 * What the kernels of this page's notebooks and consoles are doing, live
 * (issue 13 item 4): read from their own connections' messages as they come,
 * rather than from JupyterLab's kernel list, which is polled every ~10 s and
 * counts the debugger's requests as activity. The card's Activity line says
 * "busy" while a cell runs, "paused at a breakpoint" while the debugger holds
 * one, and never "starting" after a cell ran. Pure: fed by signals, no I/O.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { formatAgo, formatElapsed } from '../components/format';
import { IKernelActivity } from '../tokens';

/** The part of a kernel message the tracker reads. */
export interface IActivityMessage {
  header: { msg_type: string };
  parent_header?: { msg_type?: string } | Record<string, never>;
  content: { execution_state?: string; event?: string } & Record<string, unknown>;
}

/** The part of a widget's session context (JupyterLab's ISessionContext) the tracker reads. */
export interface IActivityContext {
  readonly session: { readonly kernel: { readonly id: string } | null } | null;
  /** The connection's status: starting, restarting, dead, ... (and busy/idle). */
  readonly statusChanged: ISignal<unknown, string>;
  /** Every IOPub message of the kernel. */
  readonly iopubMessage: ISignal<unknown, IActivityMessage>;
  readonly disposed: ISignal<unknown, unknown>;
}

/** Requests whose busy/idle say nothing of the user's code (the debugger's, on control). */
const NOT_THE_USERS = new Set(['debug_request']);
/** Connection states that replace whatever the messages said. */
const LIFECYCLE = new Set(['starting', 'restarting', 'autorestarting', 'dead', 'terminating']);

interface IState {
  execution_state: string;
  /** When it entered that state (epoch ms). */
  since: number;
  /** The last message from the kernel (epoch ms). */
  last: number;
  paused: boolean;
  /** A cell runs (its execute_request's busy came, its idle not yet). */
  executing: boolean;
}

export class KernelActivity {
  constructor(now: () => number = () => Date.now()) {
    this._now = now;
  }

  /** A kernel's activity changed (its id). */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /** Follow a notebook's or console's session context (once each; until it is disposed). */
  watch(context: IActivityContext): void {
    if (this._watched.has(context)) {
      return;
    }
    this._watched.add(context);
    const onStatus = (_: unknown, status: string): void => {
      if (LIFECYCLE.has(status)) {
        this._set(context, { execution_state: status, paused: false, executing: false });
      }
    };
    const onMessage = (_: unknown, msg: IActivityMessage): void => this._onMessage(context, msg);
    context.statusChanged.connect(onStatus);
    context.iopubMessage.connect(onMessage);
    context.disposed.connect(() => {
      context.statusChanged.disconnect(onStatus);
      context.iopubMessage.disconnect(onMessage);
    });
  }

  /** What a kernel is doing, or null if no context of this page follows it. */
  of(kernelId: string): IKernelActivity | null {
    const state = this._states.get(kernelId);
    if (!state) {
      return null;
    }
    return {
      execution_state: state.execution_state,
      last_activity: new Date(state.last).toISOString(),
      since: new Date(state.since).toISOString(),
      paused: state.paused
    };
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private _onMessage(context: IActivityContext, msg: IActivityMessage): void {
    const type = msg.header.msg_type;
    const parent = (msg.parent_header as { msg_type?: string } | undefined)?.msg_type ?? '';
    if (type === 'debug_event' && msg.content.event === 'stopped') {
      this._set(context, { paused: true });
    } else if (type === 'debug_event' && msg.content.event === 'continued') {
      this._set(context, { paused: false });
    } else if (type === 'status' && parent === 'execute_request') {
      // a cell runs until its own idle (other requests' idle may come meanwhile);
      // a cell that ends leaves no breakpoint held
      const busy = msg.content.execution_state === 'busy';
      this._set(context, busy ? { execution_state: 'busy', executing: true } : { execution_state: 'idle', executing: false, paused: false });
    } else if (type === 'status' && !NOT_THE_USERS.has(parent)) {
      const state = msg.content.execution_state ?? 'unknown';
      const old = this._states.get(context.session?.kernel?.id ?? '');
      this._set(context, { execution_state: old?.executing ? 'busy' : state });
    } else {
      this._set(context, {});
    }
  }

  private _set(context: IActivityContext, patch: Partial<IState>): void {
    const kernelId = context.session?.kernel?.id;
    if (!kernelId) {
      return;
    }
    const now = this._now();
    const old = this._states.get(kernelId);
    const state: IState = {
      execution_state: old?.execution_state ?? 'unknown',
      since: old?.since ?? now,
      paused: old?.paused ?? false,
      executing: old?.executing ?? false,
      ...patch,
      last: now
    };
    if (state.execution_state !== old?.execution_state) {
      state.since = now;
    }
    this._states.set(kernelId, state);
    this._changed.emit(kernelId);
  }

  private readonly _now: () => number;
  private readonly _watched = new WeakSet<IActivityContext>();
  private readonly _states = new Map<string, IState>();
  private readonly _changed = new Signal<this, string>(this);
}

/**
 * The card's Activity line: `busy for 12s`, `paused at a breakpoint`,
 * `idle, 5m ago` (the last message), `restarting`; '' when nothing is known.
 */
export function activityText(activity: IKernelActivity | null, nowMs: number): string {
  if (!activity) {
    return '';
  }
  if (activity.paused) {
    return 'paused at a breakpoint';
  }
  const state = activity.execution_state ?? '';
  const since = activity.since ? Date.parse(activity.since) : NaN;
  if (state === 'busy') {
    return isNaN(since) ? 'busy' : `busy for ${formatElapsed(Math.max(0, (nowMs - since) / 1000))}`;
  }
  const last = activity.last_activity ? Date.parse(activity.last_activity) : NaN;
  if (isNaN(last)) {
    return state;
  }
  return state ? `${state}, ${formatAgo(last, nowMs)}` : formatAgo(last, nowMs);
}
