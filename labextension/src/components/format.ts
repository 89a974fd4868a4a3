/**
 * Formatting helpers shared by the components (pure functions).
 */
import { formatElapsed } from '../duration';
import { IGpu, IServer, ISession } from '../tokens';

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

/** Durations in one human form (`15m`, `1h30m`; elapsed times to two units: `3m5s`). */
export { formatDuration, formatElapsed } from '../duration';

/** How long ago an epoch-ms instant was, e.g. `just now`, `5 min ago`. */
export function formatAgo(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 10) {
    return 'just now';
  }
  return `${formatElapsed(seconds)} ago`;
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

/** `10.3/80.0 GiB · 87% busy · 2 processes` of one GPU (n/a where not reported). */
export function gpuLoad(gpu: IGpu): string {
  const used = gpu.memory_used_mib;
  const total = gpu.memory_total_mib;
  const memory = used !== null && total !== null ? `${gib(used)}/${gib(total)} GiB` : 'memory n/a';
  const busy = gpu.utilization_percent === null ? 'n/a' : `${gpu.utilization_percent}%`;
  const procs = `${gpu.processes} process${gpu.processes === 1 ? '' : 'es'}`;
  return `${memory} · ${busy} busy · ${procs}`;
}

function gib(mib: number): string {
  return (mib / 1024).toFixed(1);
}

/** `SHA256:Ab3dEf7h…x9YzQ0` of a long fingerprint (the whole one goes in a tooltip). */
export function shortFingerprint(fingerprint: string, keep = 8): string {
  const colon = fingerprint.indexOf(':');
  const algo = colon >= 0 ? fingerprint.slice(0, colon) : '';
  const hash = colon >= 0 ? fingerprint.slice(colon + 1) : fingerprint;
  if (hash.length <= keep * 2 + 1) {
    return fingerprint;
  }
  return `${algo ? `${algo}:` : ''}${hash.slice(0, keep)}…${hash.slice(-keep)}`;
}

/** `~/…/envs/torch/bin/python`: a long path with its middle left out (at most `max`). */
export function shortPath(path: string, max = 32): string {
  if (path.length <= max) {
    return path;
  }
  const parts = path.split('/');
  const head = parts[0] === '' ? '' : parts[0]; // '' for an absolute path, '~' for a home one
  const tail: string[] = [];
  for (let i = parts.length - 1; i > 0; i--) {
    const next = [parts[i], ...tail].join('/');
    if (head.length + 3 + next.length > max && tail.length) {
      break;
    }
    tail.unshift(parts[i]);
  }
  const joined = tail.join('/');
  return joined.length + head.length + 3 > max ? `…${path.slice(-(max - 1))}` : `${head}/…/${joined}`;
}
