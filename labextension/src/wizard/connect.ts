/**
 * The Connect step's pure helpers: what a failed connection test or a failed
 * trust leaves the step showing.
 */
import { hostKeyChanged, hostKeyUnknown, toRemoteError } from '../api';
import { IConnectState } from './state';

/**
 * After a failed test: an unknown host key (to compare and trust), a changed
 * one (never acceptable here), or an error with its hint.
 */
export function afterFailedTest(state: Readonly<IConnectState>, error: unknown): IConnectState {
  const unknown = hostKeyUnknown(error);
  if (unknown) {
    return { ...state, status: 'hostkey_unknown', unknown };
  }
  const changed = hostKeyChanged(error);
  if (changed) {
    return { ...state, status: 'hostkey_changed', changed };
  }
  return { ...state, status: 'error', error: toRemoteError(error) };
}

/**
 * After trusting failed: the key changed meanwhile (the prompt goes, the
 * warning comes), or it is still unknown (the prompt stays, with why).
 */
export function afterFailedTrust(state: Readonly<IConnectState>, error: unknown): IConnectState {
  const changed = hostKeyChanged(error);
  if (changed) {
    return { ...state, status: 'hostkey_changed', changed, unknown: null };
  }
  return { ...state, status: 'hostkey_unknown', error: toRemoteError(error) };
}
