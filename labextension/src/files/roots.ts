/**
 * Which servers have files to browse, and where their profiles work (pure: the
 * files plugin feeds the Remote Files panel with these from the catalog).
 */
import type { IProfile, IServer } from '../rest';

/** Servers whose files we can reach: SSH servers (not Jupyter servers reached by URL). */
export function fileServers(servers: readonly IServer[]): string[] {
  return servers
    .filter(server => (server as { kind?: string }).kind !== 'jupyter')
    .map(server => server.name)
    .sort();
}

/** The working directories of each server's profiles (the storage roots to go to). */
export function profileRoots(profiles: readonly IProfile[]): Map<string, string[]> {
  const roots = new Map<string, string[]>();
  for (const profile of profiles) {
    if (profile.cwd) {
      roots.set(profile.server, [...(roots.get(profile.server) ?? []), profile.cwd].sort());
    }
  }
  return roots;
}
