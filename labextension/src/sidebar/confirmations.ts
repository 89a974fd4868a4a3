/**
 * The questions the sidebar asks before a destructive action, as text: pure
 * functions called by SidebarModel (model.ts) just before it asks the panel's
 * `confirm` (a dialog). The button's accessible name says what it does and to what.
 */
import { sessionTitle } from '../components/format';
import { IHostKey, IProfile, IServer, ISession } from '../tokens';

/** A question before a destructive action (the panel asks it with a dialog). */
export interface IConfirmation {
  title: string;
  body: string;
  /** Text of the button that goes ahead. */
  label: string;
  /** Its accessible name. */
  ariaLabel: string;
}

/** A card's Stop of a kernel: its variables are lost. */
export function stopKernelQuestion(session: ISession): IConfirmation {
  const title = sessionTitle(session);
  return {
    title: 'Stop kernel',
    body:
      `Stop kernel ${title} on ${session.server}? Its variables are lost; the notebooks ` +
      'using it say it was stopped from the Remote sidebar and can start a new one.',
    label: 'Stop kernel',
    ariaLabel: `Stop kernel ${title}`
  };
}

/** Remove a server (and the profiles of it, named). */
export function removeServerQuestion(server: IServer, profiles: readonly IProfile[]): IConfirmation {
  const body = profiles.length
    ? `Remove server ${server.name} and its profile${profiles.length > 1 ? 's' : ''} ` +
      `${profiles.map(p => p.name).join(', ')} (their kernels disappear from the ` +
      'launcher)? Kernels running now keep running until you stop them.'
    : `Remove server ${server.name}? Its saved password or passphrase is forgotten too.`;
  return { title: 'Remove server', body, label: 'Remove', ariaLabel: `Remove server ${server.name}` };
}

/** Remove a profile (and its kernel from the launcher). */
export function removeProfileQuestion(profile: IProfile): IConfirmation {
  return {
    title: 'Remove profile',
    body:
      `Remove profile ${profile.name} and its kernel ${profile.kernel_name}? ` +
      'Notebooks using it will ask for another kernel.',
    label: 'Remove',
    ariaLabel: `Remove profile ${profile.name}`
  };
}

/** Stop trusting a host key. */
export function removeHostKeyQuestion(key: IHostKey): IConfirmation {
  return {
    title: 'Remove trusted host key',
    body:
      `Stop trusting the ${key.key_type} key ${key.fingerprint} of ${key.host_id}? ` +
      'The next connection will show the key the host offers then, for you to compare ' +
      'and trust again.',
    label: 'Remove key',
    ariaLabel: `Remove the key of ${key.host_id}`
  };
}

/** Stop a kernel found running on a server (its files there go too). */
export function stopRemoteKernelQuestion(server: string, kernelId: string): IConfirmation {
  return {
    title: 'Stop remote kernel',
    body:
      `Stop kernel ${kernelId} on ${server}? Its variables are lost and its ` +
      'files under ~/.local/share/jupyter-remote are removed.',
    label: 'Stop kernel',
    ariaLabel: `Stop kernel ${kernelId}`
  };
}
