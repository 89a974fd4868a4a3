/**
 * "Run in a Slurm job": the wizard's pure rules for it. The Review step offers
 * it when the server's probe found Slurm (partitions with their limits and idle
 * nodes, the user's accounts); these helpers say what it shows, check what was
 * typed as the server will, and build the profile's `slurm` settings.
 */
import { IProfile, IRemoteError, IServerSlurm, ISlurmCluster, ISlurmPartition, ISlurmSettings } from '../tokens';

/** The Slurm part of the Review step. */
export interface ISlurmState {
  /** Loading the cluster (from the probe's cache), or what came of it. */
  status: 'idle' | 'loading' | 'ok' | 'error';
  cluster: ISlurmCluster | null;
  error: IRemoteError | null;
  /** Run the profile's kernels in a Slurm job. */
  enabled: boolean;
  partition: string;
  time: string;
  cpus: string;
  memory: string;
  gres: string;
  account: string;
  qos: string;
  reservation: string;
  /** More sbatch options, one per line (long form). */
  extra: string;
  noticeMinutes: string;
}

export const INITIAL_SLURM: Readonly<ISlurmState> = {
  status: 'idle',
  cluster: null,
  error: null,
  enabled: false,
  partition: '',
  time: '60',
  cpus: '',
  memory: '',
  gres: '',
  account: '',
  qos: '',
  reservation: '',
  extra: '',
  noticeMinutes: '10'
};

/** The idle timeout a Slurm profile starts with (s): a job nobody uses ends. */
export const SLURM_IDLE_TIMEOUT = 3600;

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
const TIME_RE = /^(\d{1,4}-)?\d{1,6}(:\d{1,2}){0,2}$/;
const MEMORY_RE = /^[1-9][0-9]{0,8}[KMGT]?$/;
const GRES_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:,-]{0,127}$/;
const OPTION_RE = /^--[a-z][a-z0-9-]{0,40}(=.*)?$/;

/** The cluster from `GET remote/servers/{name}/slurm`: null when the server has none. */
export function clusterOf(answer: IServerSlurm): ISlurmCluster | null {
  return answer && answer.slurm && Array.isArray(answer.slurm.partitions) ? answer.slurm : null;
}

/** The partition to preselect: the default one, else the first. */
export function defaultPartition(cluster: ISlurmCluster | null): string {
  const partitions = cluster?.partitions ?? [];
  return (partitions.find(p => p.default) ?? partitions[0])?.name ?? '';
}

/** `main — 3 of 8 nodes idle, up to 2-00:00:00, 64 CPUs, 512 GB, gpu:a100:4 per node`. */
export function partitionLabel(partition: ISlurmPartition): string {
  const parts = [`${partition.idle_nodes} of ${partition.nodes} nodes idle`];
  if (partition.max_time) {
    parts.push(partition.max_time === 'UNLIMITED' ? 'no time limit' : `up to ${partition.max_time}`);
  }
  const node: string[] = [];
  if (partition.cpus_per_node) {
    node.push(`${partition.cpus_per_node} CPUs`);
  }
  if (partition.memory_mb_per_node) {
    node.push(formatMemory(partition.memory_mb_per_node));
  }
  node.push(...partition.gres);
  if (node.length) {
    parts.push(`${node.join(', ')} per node`);
  }
  const state = partition.state && partition.state !== 'UP' ? ` (${partition.state.toLowerCase()})` : '';
  return `${partition.name}${partition.default ? ' (default)' : ''}${state} — ${parts.join(', ')}`;
}

function formatMemory(mb: number): string {
  return mb >= 1024 ? `${Math.round(mb / 102.4) / 10} GB` : `${mb} MB`;
}

/** Client-side checks, as the server makes them; field (`slurm.NAME`) -> message. */
export function validateSlurm(state: Readonly<ISlurmState>): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!state.enabled) {
    return errors;
  }
  for (const field of ['partition', 'account', 'qos', 'reservation'] as const) {
    const value = state[field].trim();
    if (value && !NAME_RE.test(value)) {
      errors[`slurm.${field}`] = 'Letters, digits, _ . + - as sinfo or sacctmgr shows it.';
    }
  }
  const time = state.time.trim();
  if (time && (!TIME_RE.test(time) || /^0+(:0+)*$/.test(time))) {
    errors['slurm.time'] = 'Minutes (90), H:MM:SS (1:30:00) or D-HH:MM (2-00:00), at least a minute.';
  }
  if (state.cpus.trim() && !/^[1-9]\d{0,5}$/.test(state.cpus.trim())) {
    errors['slurm.cpus'] = 'A whole number of CPUs.';
  }
  if (state.memory.trim() && !MEMORY_RE.test(state.memory.trim())) {
    errors['slurm.memory'] = 'A size such as 4G or 500M.';
  }
  if (state.gres.trim() && !GRES_RE.test(state.gres.trim())) {
    errors['slurm.gres'] = 'A GRES such as gpu:1 or gpu:a100:2.';
  }
  const bad = extraOptions(state).find(option => !OPTION_RE.test(option));
  if (bad !== undefined) {
    errors['slurm.extra'] = `"${bad}" is not a long sbatch option (one per line: --constraint=a100).`;
  }
  if (state.noticeMinutes.trim() && !/^\d{1,4}$/.test(state.noticeMinutes.trim())) {
    errors['slurm.notice_minutes'] = 'Minutes (0: never).';
  }
  return errors;
}

function extraOptions(state: Readonly<ISlurmState>): string[] {
  return state.extra
    .split('\n')
    .map(line => line.trim())
    .filter(line => line);
}

/** The profile's `slurm` settings (null: not in a job). */
export function slurmInput(state: Readonly<ISlurmState>): ISlurmSettings | null {
  if (!state.enabled) {
    return null;
  }
  const text = (value: string): string | null => value.trim() || null;
  return {
    partition: text(state.partition),
    time: text(state.time),
    cpus: state.cpus.trim() ? Number(state.cpus.trim()) : null,
    memory: text(state.memory),
    gres: text(state.gres),
    account: text(state.account),
    qos: text(state.qos),
    reservation: text(state.reservation),
    extra: extraOptions(state),
    notice_minutes: state.noticeMinutes.trim() ? Number(state.noticeMinutes.trim()) : 10
  };
}

/** The Slurm fields of a saved profile, to edit it. */
export function slurmOf(profile: IProfile): Partial<ISlurmState> {
  const slurm = profile.slurm;
  if (!slurm) {
    return { enabled: false };
  }
  const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
  return {
    enabled: true,
    partition: text(slurm.partition),
    time: text(slurm.time),
    cpus: text(slurm.cpus),
    memory: text(slurm.memory),
    gres: text(slurm.gres),
    account: text(slurm.account),
    qos: text(slurm.qos),
    reservation: text(slurm.reservation),
    extra: (slurm.extra ?? []).join('\n'),
    noticeMinutes: text(slurm.notice_minutes ?? 10)
  };
}
