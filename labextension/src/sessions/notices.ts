/**
 * Notices (something happened to a running remote kernel that is not a state
 * change, e.g. output dropped while the link was down) as notifications: the
 * notices plugin passes JupyterLab's Notification; the card shows them too.
 */
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { sessionTitle } from '../components/format';
import { INoticeEvent, ISession, ISessionsModel } from '../tokens';

/** `torch on gpu-box: 12 output messages were dropped…` (the card's title names the kernel). */
export function noticeText(notice: INoticeEvent, session: ISession | null): string {
  const kernel = session ? sessionTitle(session) : `Kernel ${notice.kernel_id.slice(0, 8)}`;
  const where = notice.server ? ` on ${notice.server}` : '';
  return `${kernel}${where}: ${notice.message}`;
}

/**
 * Call `notify` with the words of each notice the sessions model receives,
 * until the returned handle is disposed.
 */
export function notifyNotices(sessions: ISessionsModel, notify: (text: string) => void): IDisposable {
  const onNotice = (_: ISessionsModel, notice: INoticeEvent): void => {
    const session = sessions.sessions.find(s => (s.kernel_id ?? s.id) === notice.kernel_id) ?? null;
    notify(noticeText(notice, session));
  };
  sessions.noticed.connect(onNotice);
  return new DisposableDelegate(() => sessions.noticed.disconnect(onNotice));
}
