/**
 * Profiles: `remote/profiles` (each one is a kernelspec `remote-<name>`).
 */
import { IProfile, IProfileInput } from '../rest';
import { getList, jsonInit, requestAPI, seg } from './requests';

/** GET remote/profiles. */
export function listProfiles(): Promise<IProfile[]> {
  return getList<IProfile>('profiles');
}

/** POST remote/profiles: 409 `ipykernel_missing` when the env lacks ipykernel. */
export function addProfile(input: IProfileInput): Promise<IProfile> {
  return requestAPI<IProfile>('profiles', jsonInit('POST', input));
}

/** PUT remote/profiles/{name}: replace a profile. */
export function replaceProfile(input: IProfileInput): Promise<IProfile> {
  return requestAPI<IProfile>(`profiles/${seg(input.name)}`, jsonInit('PUT', input));
}

/** DELETE remote/profiles/{name} (and its kernelspec). */
export async function removeProfile(name: string): Promise<void> {
  await requestAPI<void>(`profiles/${seg(name)}`, { method: 'DELETE' });
}
