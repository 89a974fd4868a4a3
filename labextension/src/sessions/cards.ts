/**
 * What the session cards show, merged from listings (hello, polls) and events:
 * the sessions in the order first seen, the start-up progress of kernels, the
 * notices about them and the error of the last Stop/Retry of each. No I/O and
 * no signals: the sessions model calls it and emits.
 */
import { INoticeEvent, IProgressEvent, IRemoteError, ISession } from '../tokens';

/** How long a starting kernel's card stays without news before a listing drops it. */
export const STARTING_GRACE_S = 180;

/** How many of the latest notices a card keeps. */
export const MAX_NOTICES = 5;

export class SessionCards {
  /** Sessions, in the order first seen. */
  list(): ISession[] {
    return Array.from(this._sessions.values());
  }

  get(id: string): ISession | null {
    return this._sessions.get(id) ?? null;
  }

  get size(): number {
    return this._sessions.size;
  }

  progressOf(kernelId: string): IProgressEvent | null {
    return this._progress.get(kernelId) ?? null;
  }

  noticesOf(kernelId: string): readonly INoticeEvent[] {
    return this._notices.get(kernelId) ?? NO_NOTICES;
  }

  errorOf(id: string): IRemoteError | null {
    return this._errors.get(id) ?? null;
  }

  setError(id: string, error: IRemoteError | null): void {
    if (error) {
      this._errors.set(id, error);
    } else {
      this._errors.delete(id);
    }
  }

  /**
   * Take a full listing (the websocket's hello, a poll). Cards keep their
   * order; new ones go last. A card the listing lacks stays only when it is
   * stopped (until dismissed) or a kernel still starting (the server lists it
   * once it runs; `nowS` tells how long it has been quiet).
   */
  replace(listing: readonly ISession[], nowS: number): void {
    const incoming = new Map<string, ISession>();
    for (const session of listing) {
      if (session && typeof session.id === 'string') {
        incoming.set(session.id, session);
      }
    }
    const ordered = new Map<string, ISession>();
    for (const [id, old] of this._sessions) {
      const fresh = incoming.get(id);
      if (fresh) {
        ordered.set(id, fresh);
      } else if (old.state === 'stopped' || this._startingRecently(id, nowS)) {
        ordered.set(id, old);
      }
    }
    for (const [id, session] of incoming) {
      if (!ordered.has(id)) {
        ordered.set(id, session);
      }
    }
    this._sessions = ordered;
    for (const id of [...this._errors.keys(), ...this._notices.keys()]) {
      if (!ordered.has(id)) {
        this._errors.delete(id);
        this._notices.delete(id);
      }
    }
    for (const session of ordered.values()) {
      if (session.state !== 'connecting') {
        this._progress.delete(session.id);
      }
    }
  }

  /** One session changed (an event, the answer to Retry or to a new forward). */
  upsert(session: ISession): void {
    this._sessions.set(session.id, session);
    if (session.state !== 'connecting') {
      this._progress.delete(session.id);
    }
    if (session.state === 'running') {
      this._errors.delete(session.id);
    }
  }

  /**
   * A kernel reached a stage of its start (or attach). Its session is not
   * announced before it runs, so an unknown kernel gets a `connecting` card.
   * Nothing happens for a stopped card, and a late `ready` does not bring the
   * progress of a kernel that already runs back.
   */
  progress(event: IProgressEvent, nowS: number): void {
    const entry: IProgressEvent = {
      type: 'progress',
      kernel_id: event.kernel_id,
      server: String(event.server ?? ''),
      stage: String(event.stage ?? '') as IProgressEvent['stage'],
      message: String(event.message ?? ''),
      time: typeof event.time === 'number' ? event.time : nowS
    };
    const session = this._sessions.get(entry.kernel_id);
    if (!session) {
      this._sessions.set(entry.kernel_id, {
        id: entry.kernel_id,
        kind: 'kernel',
        kernel_id: entry.kernel_id,
        server: entry.server,
        profile: '',
        python: null,
        state: 'connecting',
        reason: '',
        started: entry.time ?? nowS,
        reconnects: 0,
        local_ports: []
      });
    } else if (session.state === 'stopped') {
      return;
    } else if (entry.stage === 'ready' && session.state !== 'connecting') {
      this._progress.delete(entry.kernel_id);
      return;
    }
    this._progress.set(entry.kernel_id, entry);
  }

  /** Something happened to a kernel that is not a state change; returns the stored notice. */
  notice(event: INoticeEvent, nowS: number): INoticeEvent {
    const entry: INoticeEvent = {
      type: 'notice',
      kernel_id: event.kernel_id,
      server: String(event.server ?? ''),
      message: String(event.message ?? ''),
      time: typeof event.time === 'number' ? event.time : nowS
    };
    const notices = [...this.noticesOf(entry.kernel_id), entry];
    this._notices.set(entry.kernel_id, notices.slice(-MAX_NOTICES));
    return entry;
  }

  /** The user stopped it: show it stopped now (the event may come first, or never). */
  markStopped(id: string): void {
    const session = this._sessions.get(id);
    if (session && session.state !== 'stopped') {
      this._sessions.set(id, { ...session, state: 'stopped', reason: 'stopped by you' });
    }
    this._progress.delete(id);
  }

  /** Forget a stopped card; returns whether there was one. */
  dismiss(id: string): boolean {
    const session = this._sessions.get(id);
    if (!session || session.state !== 'stopped') {
      return false;
    }
    this._sessions.delete(id);
    this._errors.delete(id);
    this._progress.delete(id);
    this._notices.delete(id);
    return true;
  }

  /** Forget the notices of a kernel; returns whether it had any. */
  dismissNotices(kernelId: string): boolean {
    return this._notices.delete(kernelId);
  }

  /**
   * Whether a kernel the server does not list yet reported start-up progress
   * lately (a start that failed says nothing more: its card goes away).
   */
  private _startingRecently(id: string, nowS: number): boolean {
    const progress = this._progress.get(id);
    if (!progress) {
      return false;
    }
    if (nowS - (progress.time ?? 0) <= STARTING_GRACE_S) {
      return true;
    }
    this._progress.delete(id);
    return false;
  }

  private _sessions = new Map<string, ISession>();
  private _progress = new Map<string, IProgressEvent>();
  private _notices = new Map<string, INoticeEvent[]>();
  private _errors = new Map<string, IRemoteError>();
}

const NO_NOTICES: readonly INoticeEvent[] = [];
