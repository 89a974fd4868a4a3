/**
 * The Environment step's pure helpers: environments grouped by kind, the
 * chosen one, and a profile name suggested from it.
 */
import { ENV_KINDS, IEnvironment } from '../tokens';
import { IEnvironmentState } from './state';

/** A group of environments of one kind, in display order. */
export interface IEnvironmentGroup {
  kind: string;
  label: string;
  environments: IEnvironment[];
}

const KIND_LABELS: Record<string, string> = {
  conda: 'Conda environments',
  uv: 'uv environments',
  venv: 'Virtual environments (venv)',
  virtualenv: 'Virtual environments (virtualenv)',
  pyenv: 'pyenv interpreters',
  system: 'System Python',
  kernelspec: 'Other kernels (kernelspecs)'
};

/** Human heading of a kind. */
export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

/** A stable key for an environment entry (a kernelspec and its python may share a path). */
export function envKey(env: IEnvironment): string {
  return env.kind === 'kernelspec' ? `kernelspec:${env.name}` : `python:${env.python}`;
}

/** Environments grouped by kind, known kinds first in ENV_KINDS order. */
export function groupEnvironments(envs: readonly IEnvironment[]): IEnvironmentGroup[] {
  const order = [...ENV_KINDS] as string[];
  for (const env of envs) {
    if (!order.includes(env.kind)) {
      order.push(env.kind);
    }
  }
  return order
    .map(kind => ({
      kind,
      label: kindLabel(kind),
      environments: envs.filter(e => e.kind === kind)
    }))
    .filter(group => group.environments.length > 0);
}

/** A profile name made of the server's and the environment's names. */
export function suggestProfileName(
  server: string,
  env: Pick<IEnvironment, 'name' | 'version'> | null,
  taken: readonly string[] = []
): string {
  const envPart = env ? env.name || (env.version ? `py${env.version}` : '') : 'custom';
  let base = [server, envPart]
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|-+$/g, '');
  base = (base || 'profile').slice(0, 60);
  let name = base;
  for (let i = 2; taken.includes(name); i++) {
    name = `${base}-${i}`;
  }
  return name;
}

/** The chosen environment entry (null for a custom path or no choice). */
export function selectedEnvironment(env: Readonly<IEnvironmentState>): IEnvironment | null {
  if (env.useCustom || env.selected === null) {
    return null;
  }
  return env.environments.find(e => envKey(e) === env.selected) ?? null;
}

/** The interpreter a profile will run, or '' if none chosen (a kernelspec has none). */
export function chosenPython(env: Readonly<IEnvironmentState>): string {
  if (env.useCustom) {
    return env.customPath.trim();
  }
  const chosen = selectedEnvironment(env);
  return chosen && chosen.kind !== 'kernelspec' ? chosen.python : '';
}

/** Why the Environment step cannot go on ('' when it can). */
export function environmentBlocker(env: Readonly<IEnvironmentState>): string {
  if (env.useCustom) {
    const path = env.customPath.trim();
    if (!path) {
      return 'Type the path of a Python interpreter on the server.';
    }
    if (!path.startsWith('/') && !path.startsWith('~/')) {
      return 'The path must be absolute (or start with ~/).';
    }
    return '';
  }
  const chosen = selectedEnvironment(env);
  if (!chosen) {
    return 'Choose an environment, or type an interpreter path.';
  }
  if (chosen.kind !== 'kernelspec' && !chosen.ipykernel) {
    return 'This environment has no ipykernel: install it, or choose another one.';
  }
  return '';
}

/** The entry to preselect: the one chosen before if still listed, else the first usable Python. */
export function preselect(environments: readonly IEnvironment[], selected: string | null): string | null {
  if (selected !== null && environments.some(e => envKey(e) === selected)) {
    return selected;
  }
  const usable = environments.find(e => e.kind !== 'kernelspec' && e.ipykernel && !e.error);
  return usable ? envKey(usable) : null;
}
