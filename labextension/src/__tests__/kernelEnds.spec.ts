/**
 * A kernel stopped from its card (issue 13 item 6): Stop asked nothing and the
 * notebook said nothing (Idle for ~9 s, then "No Kernel" with no reason). Now
 * Stop asks first, JupyterLab's lists catch up at once, and the server's
 * reason becomes one notice (the notifications its notebook's user sees).
 */
import { RemoteAPIError } from '../api';
import { INoticeEvent } from '../tokens';
import { disposeModels, IModels, makeModels, session } from './fixtures';

jest.mock('@jupyterlab/services', () => ({
  ServerConnection: { makeSettings: jest.fn(), makeRequest: jest.fn() }
}));

describe('Stop from a card', () => {
  let m: IModels;
  let notices: INoticeEvent[];

  beforeEach(async () => {
    m = await makeModels();
    m.sessions.handleEvent({ type: 'hello', sessions: [session('k1', 'running')] });
    notices = [];
    m.sessions.noticed.connect((_, notice) => notices.push(notice));
  });

  afterEach(() => {
    disposeModels(m);
  });

  it('asks first; no means nothing is stopped', async () => {
    m.answer.accept = false;
    await m.sidebar.stopSession(m.sessions.sessions[0]);
    expect(m.questions.map(q => q.ariaLabel)).toEqual(['Stop kernel torch']);
    expect(m.questions[0].body).toContain('variables are lost');
    expect(m.sessionsAPI.stopSession).not.toHaveBeenCalled();
    expect(m.opened.stopped).toEqual([]);
  });

  it('yes: stops it, and JupyterLab learns at once', async () => {
    await m.sidebar.stopSession(m.sessions.sessions[0]);
    expect(m.sessionsAPI.stopSession).toHaveBeenCalledWith('k1');
    expect(m.opened.stopped).toEqual(['k1']);
  });

  it('a failed stop shows on the card; JupyterLab is not told it stopped', async () => {
    m.sessionsAPI.stopSession.mockRejectedValueOnce(
      new RemoteAPIError({ status: 500, message: 'gone', hint: '' })
    );
    await m.sidebar.stopSession(m.sessions.sessions[0]);
    expect(m.sessions.errorOf('k1')?.message).toBe('gone');
    expect(m.opened.stopped).toEqual([]);
  });

  it('a forward stops without a question', async () => {
    await m.sidebar.stopSession(session('f1', 'running', { kind: 'forward' }));
    expect(m.questions).toEqual([]);
    expect(m.sessionsAPI.stopSession).toHaveBeenCalledWith('f1');
  });

  it("says the server's reason once, as a notice about the kernel", () => {
    const stopped = session('k1', 'stopped', { reason: 'stopped from the Remote sidebar' });
    m.sessions.handleEvent({ type: 'session', session: stopped });
    m.sessions.handleEvent({ type: 'session', session: stopped }); // again: said once
    expect(notices.map(n => [n.kernel_id, n.server, n.message])).toEqual([
      ['k1', 'gpu-box', 'The kernel was stopped from the Remote sidebar. Select a kernel to start a new one.']
    ]);
    expect(m.sessions.noticesOf('k1')).toHaveLength(1); // the card shows it too
  });

  it('says nothing for a plain shutdown, a failed start (its own error) or a forward', () => {
    m.sessions.handleEvent({ type: 'session', session: session('k1', 'stopped') });
    m.sessions.handleEvent({
      type: 'session',
      session: session('k2', 'stopped', { reason: 'the kernel did not start: x', start_failed: true })
    });
    m.sessions.handleEvent({
      type: 'session',
      session: session('f1', 'stopped', { kind: 'forward', reason: 'stopped from the Remote sidebar' })
    });
    expect(notices).toEqual([]);
  });
});
