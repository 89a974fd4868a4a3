/**
 * Launchers at the local root create locally: a launcher's empty cwd (JupyterLab
 * gives '' at the local root, which its "new notebook" command reads as "use the
 * file browser used last", possibly a remote server's) is pinned as '.' when
 * `launcher:create` makes it and again before each render.
 */
import { ConflatableMessage, IMessageHandler, Message, MessageLoop } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';

import { ILauncherLike, LAUNCHER_CREATE, LOCAL_ROOT, pinLaunchersToTheirFolder } from '../files/launchers';

/** JupyterLab's Launcher as far as it matters: setting cwd asks for a render. */
class FakeLauncher implements ILauncherLike, IMessageHandler {
  constructor(cwd: string) {
    this._cwd = cwd;
  }
  get cwd(): string {
    return this._cwd;
  }
  set cwd(value: string) {
    this._cwd = value;
    MessageLoop.postMessage(this, new ConflatableMessage('update-request'));
  }
  hasClass(name: string): boolean {
    return name === 'jp-Launcher';
  }
  processMessage(msg: Message): void {
    if (msg.type === 'update-request') {
      this.rendered.push(this._cwd);
    }
  }
  rendered: string[] = [];
  private _cwd: string;
}

class FakeCommands {
  constructor() {
    this.commandExecuted = new Signal(this);
  }
  /** What launcher:create does: make a launcher in a main-area widget and return it. */
  execute(id: string, made: unknown): void {
    this.commandExecuted.emit({ id, result: Promise.resolve(made) });
  }
  commandExecuted: Signal<this, { id: string; result: Promise<any> }>;
}

async function settle(): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0));
  MessageLoop.flush();
}

describe('launchers at the local root', () => {
  it("pins a new launcher's empty cwd as the local root, and again after the local browser returns to it", async () => {
    const commands = new FakeCommands();
    pinLaunchersToTheirFolder(commands);
    const launcher = new FakeLauncher('');
    commands.execute(LAUNCHER_CREATE, { content: launcher });
    await settle();
    expect(launcher.cwd).toBe(LOCAL_ROOT);

    launcher.cwd = 'data/2024'; // the local browser went into a folder: kept as it is
    await settle();
    expect(launcher.cwd).toBe('data/2024');
    launcher.cwd = ''; // back at the local root: pinned before the launcher renders
    await settle();
    expect(launcher.cwd).toBe(LOCAL_ROOT);
    expect(launcher.rendered.slice(-1)).toEqual([LOCAL_ROOT]);
    expect(launcher.rendered).not.toContain('');
  });

  it('leaves other commands, other widgets and remote folders alone', async () => {
    const commands = new FakeCommands();
    pinLaunchersToTheirFolder(commands);
    const other = new FakeLauncher('');
    commands.execute('notebook:create-new', { content: other });
    const remote = new FakeLauncher('gpu-box:home/ada');
    commands.execute(LAUNCHER_CREATE, { content: remote });
    const notLauncher = { content: { cwd: '', hasClass: () => false } };
    commands.execute(LAUNCHER_CREATE, notLauncher);
    await settle();
    expect(other.cwd).toBe('');
    expect(remote.cwd).toBe('gpu-box:home/ada');
    expect(notLauncher.content.cwd).toBe('');
  });
});
