/**
 * Durations as people write and read them: `15m`, `1h30m`, `90s`, `never`
 * (issue 13 item 14). The same parser and form as the server's
 * jupyter_remote/store/durations.py; both are tested against one table,
 * tests/duration_examples.json.
 */

/** The longest idle timeout a profile may have: 30 days (as the server). */
export const MAX_IDLE_TIMEOUT = 30 * 86400;

/** What a duration looks like, said in every refusal. */
export const DURATION_HELP = 'Use a duration such as 15m, 1h, 1h30m, 90s, 900 (seconds) or never.';

/** Units, largest first: symbol, seconds, the words accepted. */
const UNITS: ReadonlyArray<[string, number, readonly string[]]> = [
  ['w', 7 * 86400, ['w', 'wk', 'week', 'weeks']],
  ['d', 86400, ['d', 'day', 'days']],
  ['h', 3600, ['h', 'hr', 'hrs', 'hour', 'hours']],
  ['m', 60, ['m', 'min', 'mins', 'minute', 'minutes']],
  ['s', 1, ['s', 'sec', 'secs', 'second', 'seconds']]
];
const NEVER = ['never', 'off', 'none'];
const WORDS = new Map<string, [number, number]>();
UNITS.forEach(([, seconds, words], rank) => words.forEach(word => WORDS.set(word, [rank, seconds])));
const PART = /\s*([0-9]{1,9})\s*([a-z]+)\s*/y;
const SECONDS = /^[0-9]{1,9}$/;

/** A refused duration: the message says why, `DURATION_HELP` how to write one. */
export class DurationError extends Error {
  readonly hint = DURATION_HELP;
}

/**
 * Seconds of `15m`, `1h30m`, `900`, `never` (0); throws DurationError for
 * anything else or beyond `maximum` (the wizard's idle timeout field).
 */
export function parseDuration(text: string, maximum = MAX_IDLE_TIMEOUT): number {
  const seconds = parseText(text);
  if (seconds > maximum) {
    throw new DurationError(`Must be between 0 (never) and ${formatDuration(maximum)}.`);
  }
  return seconds;
}

function parseText(text: string): number {
  const words = text.trim().toLowerCase();
  if (NEVER.includes(words)) {
    return 0;
  }
  if (SECONDS.test(words)) {
    return parseInt(words, 10);
  }
  let total = 0;
  let lastRank = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < words.length) {
    const part = PART.exec(words);
    const unit = part ? WORDS.get(part[2]) : undefined;
    if (!part || !unit || unit[0] <= lastRank) {
      throw new DurationError(`${JSON.stringify(text.slice(0, 40))} is not a duration.`);
    }
    lastRank = unit[0];
    total += parseInt(part[1], 10) * unit[1];
  }
  if (lastRank < 0) {
    throw new DurationError('Must not be empty.');
  }
  return total;
}

/**
 * `never` for 0, else days, hours, minutes and seconds run together: `1d2h`,
 * `1h30m`, `15m`, `1m30s` (what parseDuration reads back). `parts` keeps that
 * many units from the largest, rounded down (an uptime: `2h5m`, not `2h5m17s`).
 */
export function formatDuration(totalSeconds: number, parts = UNITS.length): string {
  let rest = Math.floor(totalSeconds);
  if (!(rest > 0)) {
    return 'never';
  }
  const out: string[] = [];
  let first = -1;
  UNITS.slice(1).forEach(([symbol, size], index) => {
    // a week reads better as 7d than 1w
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count && first < 0) {
      first = index;
    }
    if (count && index - first < parts) {
      out.push(`${count}${symbol}`);
    }
  });
  return out.join('');
}

/** An elapsed time in the same form: `0s`, `45s`, `3m5s`, `2h4m`, `3d2h`. */
export function formatElapsed(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  return seconds === 0 ? '0s' : formatDuration(seconds, 2);
}
