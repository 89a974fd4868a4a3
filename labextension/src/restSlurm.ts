/**
 * The REST shapes of Slurm (see jupyter_remote/openapi.json): a profile's
 * settings for running its kernel in a job, and what the probe saw of a server's
 * cluster (`GET remote/servers/{name}/slurm`). Types only; rest.ts re-exports them,
 * so importers use `../rest` (or `../tokens`).
 */

/**
 * A profile's "run in a Slurm job" settings (store/slurm.py): what sbatch gets,
 * each value one argument; null means Slurm's (or the partition's) default.
 */
export interface ISlurmSettings {
  partition?: string | null;
  /** Time limit: minutes, H:MM:SS or D-HH:MM. */
  time?: string | null;
  cpus?: number | null;
  /** --mem, e.g. 4G. */
  memory?: string | null;
  /** GPUs and other generic resources (--gres), e.g. gpu:1. */
  gres?: string | null;
  account?: string | null;
  qos?: string | null;
  reservation?: string | null;
  /** More sbatch options, long form, one per item (--constraint=a100). */
  extra?: string[];
  /** Minutes before the time limit the notebook is told (0: never). */
  notice_minutes?: number;
}

/** A partition as the probe saw it (`GET remote/servers/{name}/slurm`). */
export interface ISlurmPartition {
  name: string;
  default: boolean;
  state: string;
  /** Slurm's words: UNLIMITED, 1-00:00:00, ... ('' : unknown). */
  max_time: string;
  max_minutes: number | null;
  default_time: string;
  max_cpus_per_node: number | null;
  max_memory_mb_per_node: number | null;
  nodes: number;
  idle_nodes: number;
  cpus: number;
  cpus_per_node: number;
  memory_mb_per_node: number;
  gres: string[];
}

/** An account of the user's (sacctmgr), with its partitions and QOS. */
export interface ISlurmAccount {
  account: string;
  partitions: string[];
  qos: string[];
}

/** The Slurm behind a server (its login node). */
export interface ISlurmCluster {
  version: string;
  user: string;
  partitions: ISlurmPartition[];
  accounts: ISlurmAccount[];
  /** What could not be learned (e.g. accounts without accounting). */
  errors: string[];
}

/** `GET remote/servers/{name}/slurm`: slurm is null where the server has no Slurm. */
export interface IServerSlurm {
  server: string;
  slurm: ISlurmCluster | null;
  probed_at: number | null;
}
