/**
 * Profiles: `remote/profiles` (each one is a kernelspec `remote-<name>`).
 */
import { IProfile, IProfileInput } from '../rest';
import { getList, jsonInit, requestAPI, seg } from './requests';

/** GET remote/profiles. */
export function listProfiles(): Promise<IProfile[]> {
  return getList<IProfile>('profiles');
}

/** Options of saving a profile. */
export interface ISaveProfileOptions {
  /** Create a missing working directory on the remote (else 409 `cwd_missing`). */
  createCwd?: boolean;
}

function createCwdQuery(options: ISaveProfileOptions): string {
  return options.createCwd ? '?create_cwd=1' : '';
}

/**
 * POST remote/profiles: 409 `ipykernel_missing` when the env lacks ipykernel,
 * 409 `cwd_missing` when the working directory does not exist.
 */
export function addProfile(input: IProfileInput, options: ISaveProfileOptions = {}): Promise<IProfile> {
  return requestAPI<IProfile>(`profiles${createCwdQuery(options)}`, jsonInit('POST', input));
}

/** PATCH remote/profiles/{name}: change the fields given (the kernelspec follows). */
export function updateProfile(
  name: string,
  changes: Partial<IProfileInput>,
  options: ISaveProfileOptions = {}
): Promise<IProfile> {
  return requestAPI<IProfile>(`profiles/${seg(name)}${createCwdQuery(options)}`, jsonInit('PATCH', changes));
}

/** PUT remote/profiles/{name}: replace a profile. */
export function replaceProfile(input: IProfileInput): Promise<IProfile> {
  return requestAPI<IProfile>(`profiles/${seg(input.name)}`, jsonInit('PUT', input));
}

/** DELETE remote/profiles/{name} (and its kernelspec). */
export async function removeProfile(name: string): Promise<void> {
  await requestAPI<void>(`profiles/${seg(name)}`, { method: 'DELETE' });
}
