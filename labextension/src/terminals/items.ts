/**
 * What the launcher and the palette offer for remote terminals, and how they
 * name them: pure, so it is tested on its own (widgets.ts opens the tabs).
 */
import { DisposableSet, IDisposable } from '@lumino/disposable';

import { IServer } from '../rest';
import { CommandIDs } from '../tokens';

/** What the open-terminal command takes: a server, and a terminal id to reattach to. */
export interface IOpenTerminalArgs {
  server: string;
  persistent?: boolean;
  id?: string;
}

/** The tab's label, as the launcher and the palette say it. */
export function terminalLabel(server: string, persistent = false): string {
  return `${persistent ? 'Persistent terminal' : 'Terminal'} — ${server}`;
}

/** The launcher's and palette's caption. */
export function terminalCaption(server: string, persistent = false): string {
  return persistent
    ? `A shell on ${server} in a tmux (or screen) session of its own: it survives link ` +
        'drops and page reloads with its scrollback. Closing the tab ends it.'
    : `A shell on ${server} over its SSH connection. Closing the tab ends it.`;
}

/** Servers that can have a terminal: SSH servers (a Jupyter server has its own). */
export function terminalServers(servers: readonly IServer[]): IServer[] {
  return servers.filter(s => ((s as { kind?: string }).kind ?? 'ssh') === 'ssh');
}

/** Something that takes launcher items (ILauncher's `add`). */
export interface ILauncherLike {
  add(options: {
    command: string;
    args?: Record<string, unknown>;
    category?: string;
    rank?: number;
  }): IDisposable;
}

/** Something that takes palette items (ICommandPalette's `addItem`). */
export interface IPaletteLike {
  addItem(options: { command: string; args?: Record<string, unknown>; category: string }): IDisposable;
}

/**
 * Launcher and palette items for the servers' terminals, kept in step with the
 * saved servers: call it again with the new list, it replaces the old items.
 */
export class TerminalItems implements IDisposable {
  constructor(
    private readonly _launcher: ILauncherLike | null,
    private readonly _palette: IPaletteLike | null
  ) {}

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The items of SERVERS (SSH servers only); a no-op when the names did not change. */
  update(servers: readonly IServer[]): void {
    const names = terminalServers(servers).map(s => s.name);
    const key = names.join('\n');
    if (this._disposed || key === this._key) {
      return;
    }
    this._key = key;
    this._items.dispose();
    this._items = new DisposableSet();
    names.forEach((server, index) => {
      for (const persistent of [false, true]) {
        const args = { server, persistent };
        const command = CommandIDs.openTerminal;
        if (this._launcher) {
          this._items.add(
            this._launcher.add({ command, args, category: 'Other', rank: 100 + 2 * index + +persistent })
          );
        }
        if (this._palette) {
          this._items.add(this._palette.addItem({ command, args, category: 'Remote' }));
        }
      }
    });
  }

  dispose(): void {
    this._disposed = true;
    this._items.dispose();
  }

  private _items = new DisposableSet();
  private _key: string | null = null;
  private _disposed = false;
}
