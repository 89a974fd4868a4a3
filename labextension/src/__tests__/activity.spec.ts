/**
 * The card's Activity line (issue 13 item 4), from the kernel's own messages as
 * a notebook's session context receives them: it said "idle, just now" while a
 * cell ran, "idle" at a breakpoint and "starting" after a cell ran, because it
 * read JupyterLab's polled kernel list.
 */
import { Signal } from '@lumino/signaling';

import { activityText, IActivityContext, IActivityMessage, KernelActivity } from '../sessions/activity';
import { SessionsModel } from '../sessions/model';
import { ISession } from '../tokens';

class FakeContext implements IActivityContext {
  session = { kernel: { id: 'k1' } as { id: string } | null };
  statusChanged = new Signal<unknown, string>(this);
  iopubMessage = new Signal<unknown, IActivityMessage>(this);
  disposed = new Signal<unknown, unknown>(this);

  status(state: string, parent: string): void {
    this.iopubMessage.emit({
      header: { msg_type: 'status' },
      parent_header: { msg_type: parent },
      content: { execution_state: state }
    });
  }

  debug(event: string): void {
    this.iopubMessage.emit({ header: { msg_type: 'debug_event' }, parent_header: {}, content: { event } });
  }

  stream(): void {
    this.iopubMessage.emit({ header: { msg_type: 'stream' }, parent_header: { msg_type: 'execute_request' }, content: {} });
  }
}

function setup(): { clock: { t: number }; activity: KernelActivity; ctx: FakeContext; line: () => string } {
  const clock = { t: Date.parse('2026-01-01T10:00:00Z') };
  const activity = new KernelActivity(() => clock.t);
  const ctx = new FakeContext();
  activity.watch(ctx);
  activity.watch(ctx); // once
  return { clock, activity, ctx, line: () => activityText(activity.of('k1'), clock.t) };
}

describe('KernelActivity', () => {
  it('says busy while a cell runs, whatever other requests say meanwhile', () => {
    const { clock, ctx, line } = setup();
    ctx.status('busy', 'execute_request');
    clock.t += 12_000;
    ctx.status('busy', 'comm_info_request');
    ctx.status('idle', 'comm_info_request'); // the polled list said "idle, just now" here
    ctx.stream();
    expect(line()).toBe('busy for 12s');
    ctx.status('idle', 'execute_request');
    clock.t += 65_000;
    expect(line()).toBe('idle, 1m5s ago');
  });

  it('says paused at a breakpoint while the debugger holds one', () => {
    const { ctx, line } = setup();
    ctx.status('busy', 'execute_request');
    ctx.debug('stopped');
    ctx.status('busy', 'debug_request');
    ctx.status('idle', 'debug_request'); // the debugger's own requests: not the user's code
    expect(line()).toBe('paused at a breakpoint');
    ctx.debug('continued');
    expect(line()).toMatch(/^busy for /);
    ctx.debug('stopped');
    ctx.status('idle', 'execute_request'); // the cell ended: nothing held
    expect(line()).toBe('idle, just now');
  });

  it('says starting and restarting only while the connection does', () => {
    const { ctx, line } = setup();
    ctx.statusChanged.emit('restarting');
    expect(line()).toBe('restarting, just now');
    ctx.status('idle', 'kernel_info_request');
    expect(line()).toBe('idle, just now');
    ctx.status('busy', 'execute_request');
    ctx.status('idle', 'execute_request');
    expect(line()).toBe('idle, just now'); // never "starting" after a cell ran
  });

  it('knows nothing of kernels it does not follow, and stops following on dispose', () => {
    const { activity, ctx } = setup();
    expect(activity.of('other')).toBeNull();
    ctx.disposed.emit(undefined);
    ctx.status('busy', 'execute_request');
    expect(activity.of('k1')).toBeNull();
  });
});

describe('the sessions model prefers live activity', () => {
  it('over JupyterLab polled kernel list, and re-renders on a change', () => {
    const { activity, ctx } = setup();
    const polled = {
      running: function* () {
        yield { id: 'k1', execution_state: 'starting', last_activity: '2026-01-01T09:00:00Z' };
      },
      runningChanged: new Signal<unknown, unknown>({})
    };
    const model = new SessionsModel({ createSocket: null, kernels: polled, activity });
    const session = { id: 'k1', kernel_id: 'k1', kind: 'kernel', state: 'running' } as ISession;
    model.handleEvent({ type: 'hello', sessions: [session] });
    expect(model.activityOf(session)?.execution_state).toBe('starting'); // nothing live yet
    let changes = 0;
    model.changed.connect(() => changes++);
    ctx.status('busy', 'execute_request');
    expect(model.activityOf(session)?.execution_state).toBe('busy');
    expect(changes).toBe(1);
    model.dispose();
  });
});

describe('activityText', () => {
  it('is empty when nothing is known', () => {
    expect(activityText(null, 0)).toBe('');
  });
});
