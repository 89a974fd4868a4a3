/**
 * Formatting helpers shared by the components (pure functions).
 */
import { IServer, ISession } from '../tokens';

/** `user@host:port`, leaving out what SSH will default. */
export function formatAddress(server: Pick<IServer, 'user' | 'host' | 'port'>): string {
  const user = server.user ? `${server.user}@` : '';
  const port = server.port !== null && server.port !== undefined ? `:${server.port}` : '';
  return `${user}${server.host}${port}`;
}

const AUTH_LABELS: Record<string, string> = {
  key: 'SSH key',
  password: 'password',
  agent: 'SSH agent'
};

/** Human words for an auth method (unknown methods are shown as they are). */
export function authLabel(auth: string): string {
  return AUTH_LABELS[auth] ?? auth;
}

/** A duration in seconds as `45 s`, `3 min 05 s`, `2 h 04 min`, `3 d 2 h`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(s % 60).padStart(2, '0')} s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  }
  const days = Math.floor(hours / 24);
  return `${days} d ${hours % 24} h`;
}

/** How long ago an epoch-ms instant was, e.g. `just now`, `5 min ago`. */
export function formatAgo(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 10) {
    return 'just now';
  }
  return `${formatDuration(seconds)} ago`;
}

/** An ISO date (as the host-key store writes it) in the user's locale; raw if unparsable. */
export function formatDate(iso: string | undefined | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return iso;
  }
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  });
}

/** A millisecond figure rounded for people: `12 ms`, `1.3 s`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || isNaN(ms)) {
    return '—';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Title of a card: the profile, else the kernel id's start. */
export function sessionTitle(session: ISession): string {
  if (session.profile) {
    return session.profile;
  }
  if (session.kind === 'forward') {
    return `Port ${session.remote_port ?? '?'} on ${session.server}`;
  }
  if (session.kind === 'terminal') {
    return `${session.persistent ? 'Persistent terminal' : 'Terminal'} on ${session.server}`;
  }
  return `Kernel ${(session.kernel_id ?? session.id).slice(0, 8)}`;
}
