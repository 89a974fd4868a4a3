/**
 * The Review step's pure helpers: the choices offered, the checks made before
 * saving, the REST body of the profile, and which field a refusal is about.
 */
import { RemoteAPIError } from '../api';
import { formatDuration } from '../duration';
import { IProfile, IProfileInput, IRemoteError } from '../tokens';
import { chosenPython, selectedEnvironment } from './environments';
import { IEnvironmentState, IEnvVarRow, IReviewState } from './state';

/** Profile names the server accepts: `[A-Za-z0-9._-]{1,64}`. */
export const PROFILE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Environment variable names the server accepts. */
export const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The idle timeouts offered, in seconds (0 = never), labelled in the one human form. */
export const IDLE_TIMEOUTS: ReadonlyArray<{ seconds: number; label: string }> = [
  0,
  15 * 60,
  60 * 60,
  4 * 60 * 60,
  24 * 60 * 60,
  7 * 24 * 60 * 60
].map(seconds => ({ seconds, label: formatDuration(seconds) }));

/** Client-side checks of the Review form; field -> message. */
export function validateReview(review: Readonly<IReviewState>): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!PROFILE_NAME_RE.test(review.name.trim())) {
    errors.name = 'Use 1 to 64 letters, digits, dots, dashes or underscores.';
  }
  const cwd = review.cwd.trim();
  if (cwd && !cwd.startsWith('/') && !cwd.startsWith('~/') && cwd !== '~') {
    errors.cwd = 'Use an absolute path on the server (or one starting with ~/).';
  }
  const seen = new Set<string>();
  for (const row of review.envVars) {
    const key = row.key.trim();
    if (!key && !row.value) {
      continue;
    }
    if (!ENV_VAR_RE.test(key)) {
      errors.env = `"${key}" is not a valid variable name (letters, digits, _; not starting with a digit).`;
      break;
    }
    if (seen.has(key)) {
      errors.env = `${key} is set twice.`;
      break;
    }
    seen.add(key);
  }
  return errors;
}

/** The body of POST remote/profiles for these choices. */
export function profileInput(
  server: string,
  review: Readonly<IReviewState>,
  environment: Readonly<IEnvironmentState>
): IProfileInput {
  const env: Record<string, string> = {};
  for (const row of review.envVars) {
    if (row.key.trim()) {
      env[row.key.trim()] = row.value;
    }
  }
  const input: IProfileInput = {
    name: review.name.trim(),
    server,
    cwd: review.cwd.trim() || null,
    env,
    idle_timeout: review.idleTimeout,
    display_name: review.displayName.trim() || null,
    standby: review.standby
  };
  const chosen = selectedEnvironment(environment);
  if (!environment.useCustom && chosen && chosen.kind === 'kernelspec') {
    input.kernelspec = chosen.name;
  } else {
    input.python = chosenPython(environment);
  }
  return input;
}

/** The Review fields a refused save is about (a name taken: `conflict`). */
export function saveFieldErrors(error: unknown, remote: IRemoteError): Record<string, string> {
  const fieldErrors: Record<string, string> = {};
  let field = remote.field;
  if (!field && error instanceof RemoteAPIError && error.reason === 'conflict') {
    field = 'name';
  }
  if (field && ['name', 'cwd', 'env', 'idle_timeout', 'display_name', 'standby'].includes(field)) {
    fieldErrors[field] = remote.message;
  }
  return fieldErrors;
}

/** The variables the GPU picker sets: nvidia-smi's indices, numbered as nvidia-smi does. */
export const GPU_VAR = 'CUDA_VISIBLE_DEVICES';
export const GPU_ORDER_VAR = 'CUDA_DEVICE_ORDER';

/** The GPU indices a profile's variables pin (empty: all GPUs). */
export function pinnedGpus(envVars: readonly IEnvVarRow[]): number[] {
  const row = envVars.find(r => r.key.trim() === GPU_VAR);
  if (!row) {
    return [];
  }
  return row.value
    .split(',')
    .map(part => part.trim())
    .filter(part => /^\d+$/.test(part))
    .map(Number);
}

/**
 * The variables with GPU `index` pinned or unpinned: CUDA_VISIBLE_DEVICES
 * lists the chosen indices, with CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA numbers
 * the GPUs as nvidia-smi does; no GPU chosen drops both (all GPUs).
 */
export function toggleGpu(envVars: readonly IEnvVarRow[], index: number): IEnvVarRow[] {
  const pinned = new Set(pinnedGpus(envVars));
  if (pinned.has(index)) {
    pinned.delete(index);
  } else {
    pinned.add(index);
  }
  const rest = envVars.filter(r => ![GPU_VAR, GPU_ORDER_VAR].includes(r.key.trim()));
  if (!pinned.size) {
    return rest;
  }
  const value = [...pinned].sort((a, b) => a - b).join(',');
  return [...rest, { key: GPU_VAR, value }, { key: GPU_ORDER_VAR, value: 'PCI_BUS_ID' }];
}

/** The Review step's state for editing a saved profile. */
export function reviewOf(
  profile: IProfile
): Pick<IReviewState, 'name' | 'cwd' | 'envVars' | 'idleTimeout' | 'displayName' | 'standby'> {
  return {
    name: profile.name,
    cwd: profile.cwd ?? '',
    envVars: Object.entries(profile.env ?? {}).map(([key, value]) => ({ key, value })),
    idleTimeout: profile.idle_timeout,
    displayName: profile.custom_display_name ?? '',
    standby: profile.standby === true
  };
}
