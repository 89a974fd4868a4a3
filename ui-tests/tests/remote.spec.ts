/**
 * End to end, against a real OpenSSH sshd (start_test_host.py):
 *
 *   add a server in the form -> the unknown-key prompt shows the host's
 *   fingerprint -> Trust -> pick the test host's Python -> Start -> Open
 *   notebook, after the local file browser was used last, creates it on the
 *   server's drive in the home directory, where remote-<profile> runs
 *   getpass.getuser() and os.getcwd() ->
 *   the session card follows an sshd outage (Reconnecting -> Running) and an
 *   impostor key (Disconnected, Retry after the real key is back) -> Stop ->
 *   no kernel left on the remote; a kernel left running by another Jupyter
 *   server: Attach opens its notebook where it runs (its server, its
 *   directory), though the local file browser was used last; then an impostor
 *   key -> the red warning with no way to accept -> the Security drawer lists
 *   the key and removes it.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

import { artifactPath, impostor, readHost, restore, toggleOutage } from './testhost';

const SERVER = 'ui-box';
const PROFILE = 'uitest';
const KERNEL = `remote-${PROFILE}`;

test.use({ autoGoto: true });

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('region', { name: 'Remote', exact: true });
}

function wizard(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('tabpanel', { name: `Connect: ${SERVER}` });
}

function sessionCard(page: IJupyterLabPageFixture): Locator {
  return sidebar(page)
    .getByRole('list', { name: 'Remote sessions' })
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name: new RegExp(`Session ${PROFILE}`) }) });
}

async function openSidebar(page: IJupyterLabPageFixture): Promise<void> {
  await page.sidebar.openTab('jp-remote-sidebar');
  await page.sidebar.setWidth(340);
  await expect(sidebar(page)).toBeVisible();
}

test.describe.serial('Remote sidebar against a real sshd', () => {
  test('server -> trust -> environment -> profile -> remote notebook -> session card -> stop', async ({
    page,
    request
  }) => {
    const host = readHost();

    await test.step('add a server in the form', async () => {
      await openSidebar(page);
      const panel = sidebar(page);
      await expect(panel.getByText('No saved servers yet.')).toBeVisible();
      await page.screenshot({ path: artifactPath('sidebar-empty-light.png') });
      await panel.getByRole('button', { name: 'Add server', exact: true }).click();

      const form = panel.getByRole('form', { name: 'Add a server' });
      await expect(form).toBeVisible();
      // the server's validation message shows at its field
      await form.getByLabel('Name', { exact: true }).fill(SERVER);
      await form.getByLabel('Host', { exact: true }).fill(host.host);
      await form.getByLabel('Port', { exact: true }).fill(String(host.port));
      await form.getByLabel('User', { exact: true }).fill(host.user);
      await form.getByLabel('Key file', { exact: true }).fill('/nonexistent/id_ed25519');
      await form.getByRole('button', { name: 'Save and connect' }).click();
      const keyField = form.getByLabel('Key file', { exact: true });
      await expect(keyField).toHaveAttribute('aria-invalid', 'true');
      await expect(form.getByText(/does not exist or is not a file/)).toBeVisible();
      await page.screenshot({ path: artifactPath('server-form-light.png') });

      await keyField.fill(host.identity);
      await form.getByRole('button', { name: 'Save and connect' }).click();
    });

    await test.step('the unknown host key shows its type and fingerprint; Trust', async () => {
      const w = wizard(page);
      await expect(w).toBeVisible();
      const prompt = w.getByRole('group', { name: 'Unknown host key' });
      await expect(prompt).toBeVisible({ timeout: 30_000 });
      await expect(prompt.getByLabel('SHA256 fingerprint')).toHaveText(host.fingerprint);
      await expect(prompt.getByText(host.key_type, { exact: true })).toBeVisible();
      await expect(prompt.getByText(host.host_id).first()).toBeVisible();
      await page.screenshot({ path: artifactPath('wizard-1-hostkey-unknown-light.png') });

      await prompt.getByRole('button', { name: 'Trust' }).click();
      await expect(w.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
      await expect(w.getByText(host.fingerprint)).toBeVisible();
      await page.screenshot({ path: artifactPath('wizard-1-connected-light.png') });
      await w.getByRole('button', { name: 'Next' }).click();
    });

    await test.step('pick the test host Python (typed: it is not in a standard place)', async () => {
      const w = wizard(page);
      await expect(w.getByRole('heading', { name: 'Step 2 of 3: Environment' })).toBeVisible();
      // discovery ran: the system python is listed, grouped by kind, with its ipykernel status
      const system = w.getByRole('group', { name: 'System Python' });
      await expect(system.getByRole('radio').first()).toBeVisible({ timeout: 60_000 });
      await expect(system.getByText(/ipykernel (installed|missing)/).first()).toBeVisible();
      await page.screenshot({ path: artifactPath('wizard-2-environment-light.png') });
      await w.getByLabel('Path of a Python interpreter on the server').fill(host.remote_python);
      await expect(w.getByRole('radio', { name: 'Another interpreter' })).toBeChecked();
      await w.getByRole('button', { name: 'Next' }).click();
    });

    await test.step('review and Start: the profile is saved, its kernelspec appears', async () => {
      const w = wizard(page);
      await expect(w.getByRole('heading', { name: 'Step 3 of 3: Review' })).toBeVisible();
      await w.getByLabel('Profile name').fill(PROFILE);
      await w.getByRole('button', { name: 'Add variable' }).click();
      await w.getByLabel('Name of variable 1').fill('JR_UI_TEST');
      await w.getByLabel('Value of variable 1').fill('hello');
      await w.getByLabel('Stop the kernel when idle for').selectOption({ label: '1h' });
      await page.screenshot({ path: artifactPath('wizard-3-review-light.png') });
      await w.getByRole('button', { name: 'Start' }).click();
      await expect(w.getByText(`Profile ${PROFILE} saved.`)).toBeVisible({ timeout: 60_000 });
      await page.screenshot({ path: artifactPath('wizard-3-saved-light.png') });
      // the kernelspecs were refreshed: the launcher and kernel picker know it
      const specs = await page.evaluate(() => {
        const app = (window as any).jupyterapp;
        return Object.keys(app.serviceManager.kernelspecs.specs?.kernelspecs ?? {});
      });
      expect(specs).toContain(KERNEL);
      // the sidebar lists the profile under its server
      await expect(
        sidebar(page).getByRole('listitem', { name: `Profile ${PROFILE}` })
      ).toBeVisible();
    });

    let kernelId = '';
    let notebook = ''; // the new notebook's remote path (removed at the end)
    await test.step('Open notebook: on the server, in its home, though the local browser was used last', async () => {
      const home: string = (await (await request.get(`/remote/servers/${SERVER}/files/~?content=0`)).json()).path;
      // the server's files were browsed (a remote file browser exists) ...
      await page.locator('.jp-SideBar .lm-TabBar-tab[data-id="jp-remote-files"]').click();
      await expect(page.locator('#jp-remote-files .jp-DirListing-content')).toBeVisible();
      // ... then the local one: JupyterLab's "file browser used last", where a
      // notebook:create-new given no folder would create it
      await page.sidebar.openTab('filebrowser');
      await page.locator('#filebrowser .jp-DirListing-content').click();
      await wizard(page).getByRole('button', { name: 'Open notebook' }).click();
      await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
      const created = new RegExp(`^${SERVER}:${home.slice(1)}/Untitled\\d*\\.ipynb$`);
      await expect
        .poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path ?? ''))
        .toMatch(created);
      const drivePath: string = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.path);
      notebook = '/' + drivePath.slice(SERVER.length + 1);
      expect((await request.get(`/remote/servers/${SERVER}/files${notebook}?content=0`)).status()).toBe(200);
      await openSidebar(page);
      // the profile's kernel, in the notebook's directory on the server
      await page.notebook.setCell(
        0,
        'code',
        'import getpass, os; getpass.getuser(), os.environ["JR_UI_TEST"], os.getcwd()'
      );
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), {
          timeout: 90_000
        })
        .toContain(`('${host.user}', 'hello', '${home}')`);
      const card = sessionCard(page);
      await expect(card.getByText('Running', { exact: true })).toBeVisible();
      await expect(card.getByText(SERVER, { exact: true })).toBeVisible();
      kernelId = (await card.getAttribute('data-session-id')) ?? '';
      expect(kernelId).not.toBe('');
      await page.screenshot({ path: artifactPath('session-running-light.png') });
    });

    await test.step('an sshd outage: Reconnecting, then Running again by itself', async () => {
      const card = sessionCard(page);
      await toggleOutage();
      await expect(card.getByText('Reconnecting', { exact: true })).toBeVisible();
      await expect(card.getByText(/the kernel keeps running remotely/)).toBeVisible();
      await page.screenshot({ path: artifactPath('session-reconnecting-light.png') });
      await toggleOutage();
      await expect(card.getByText('Running', { exact: true })).toBeVisible({ timeout: 60_000 });
    });

    await test.step('an impostor key while running: Disconnected with the reason; Retry', async () => {
      const card = sessionCard(page);
      await impostor();
      await expect(card.getByText('Disconnected', { exact: true })).toBeVisible({
        timeout: 60_000
      });
      await expect(card.getByText(/CHANGED/)).toBeVisible();
      await page.screenshot({ path: artifactPath('session-disconnected-light.png') });
      await restore();
      await card.getByRole('button', { name: `Retry session ${PROFILE}` }).click();
      await expect(card.getByText('Running', { exact: true })).toBeVisible({ timeout: 60_000 });
      // the kernel kept running remotely all along: its state is still there
      await page.notebook.setCell(0, 'code', 'getpass.getuser()');
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), {
          timeout: 60_000
        })
        .toContain(`'${host.user}'`);
    });

    await test.step('forward a port of the remote and open it through Jupyter', async () => {
      // a web server on the remote's 127.0.0.1, started from the remote kernel
      await page.notebook.setCell(
        0,
        'code',
        [
          'import socket, subprocess, sys, tempfile, pathlib',
          'web = tempfile.mkdtemp()',
          'pathlib.Path(web, "hello-from-remote.txt").write_text("hi")',
          's = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()',
          'srv = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", web])',
          'import time',
          'up = lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0',
          'any(up() or time.sleep(0.1) for _ in range(100))',
          'port'
        ].join('\n')
      );
      await page.notebook.runCell(0);
      let port = '';
      await expect
        .poll(async () => {
          port = ((await page.notebook.getCellTextOutput(0)) ?? []).join('').trim();
          return /^\d+$/.test(port);
        })
        .toBe(true);

      const panel = sidebar(page);
      await panel.getByRole('button', { name: 'Forward a port' }).click();
      const form = panel.getByRole('form', { name: `Forward a port of ${SERVER}` });
      await form.getByLabel('Remote port').fill(port);
      await form.getByRole('button', { name: 'Forward' }).click();
      const card = panel
        .getByRole('list', { name: 'Remote sessions' })
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: new RegExp(`Port ${port} on ${SERVER}`) }) });
      await expect(card.getByText('Running', { exact: true })).toBeVisible();
      await page.screenshot({ path: artifactPath('session-forward-light.png') });
      const [tab] = await Promise.all([
        page.context().waitForEvent('page'),
        card.getByRole('button', { name: `Open Port ${port} on ${SERVER} in a new tab` }).click()
      ]);
      await expect(tab.getByText('hello-from-remote.txt')).toBeVisible();
      // served on the forward's own origin (JupyterLab runs on 127.0.0.1: a browser on
      // this machine), with no opener into JupyterLab (forward-isolation.spec.ts tests
      // what a hostile page can do there)
      expect(tab.url()).toMatch(/^http:\/\/jr-[0-9a-f]{32}\.localhost:\d+\/$/);
      const origin = new URL(tab.url()).origin;
      expect(await tab.evaluate(() => window.opener === null && self.origin)).toBe(origin);
      await tab.close();
      await card.getByRole('button', { name: `Stop session Port ${port} on ${SERVER}` }).click();
      await expect(card.getByText('Stopped', { exact: true })).toBeVisible();
      await card.getByRole('button', { name: /^Dismiss session/ }).click();
      await panel.getByRole('button', { name: 'Forward a port' }).click();
      await page.notebook.setCell(0, 'code', 'srv.terminate(); srv.wait()');
      await page.notebook.runCell(0);
    });

    await test.step('Stop on the card: no kernel is left on the remote', async () => {
      const card = sessionCard(page);
      await card.getByRole('button', { name: `Stop session ${PROFILE}` }).click();
      await page.locator('.jp-Dialog').getByRole('button', { name: `Stop kernel ${PROFILE}` }).click();
      await expect(card.getByText('Stopped', { exact: true })).toBeVisible({ timeout: 60_000 });
      await expect
        .poll(
          async () => {
            const response = await request.get(`/remote/servers/${SERVER}/kernels`);
            expect(response.ok()).toBeTruthy();
            const kernels = (await response.json()) as Array<{ kernel_id: string; state: string }>;
            return kernels.filter(k => k.kernel_id === kernelId).length;
          },
          { timeout: 30_000 }
        )
        .toBe(0);
      await page.screenshot({ path: artifactPath('session-stopped-light.png') });
      await card.getByRole('button', { name: `Dismiss session ${PROFILE}` }).click();
      await expect(card).toHaveCount(0);
      // the test's notebook leaves the remote home as it found it
      await page.notebook.close(true);
      expect((await request.delete(`/remote/servers/${SERVER}/files${notebook}`)).status()).toBe(204);
    });
  });

  test('a kernel left running by another Jupyter server: Attach from the sidebar', async ({
    page,
    request
  }) => {
    // Another Jupyter server (same data dir: same profile and trusted key)
    // starts a kernel on the profile (idle timeout 1 h) and exits: the kernel
    // stays on the remote, detached, as after a restart.
    const kernelId = await startKernelInOtherServer(KERNEL);
    // where it runs, as the server's kernel listing says: the notebook goes there
    const listed = ((await (await request.get(`/remote/servers/${SERVER}/kernels`)).json()) as Array<{
      kernel_id: string;
      pid: number;
      cwd: string;
    }>).find(k => k.kernel_id === kernelId);
    expect(listed?.pid).toBeTruthy();
    const { pid, cwd } = listed!;
    expect(cwd).toMatch(/^\//);

    // the local file browser is the one used last: notebook:create-new given no
    // folder would create Attach's notebook there
    await page.sidebar.openTab('filebrowser');
    await page.locator('#filebrowser .jp-DirListing-content').click();
    await openSidebar(page);
    const panel = sidebar(page);
    await panel.getByRole('button', { name: 'Kernels on the server' }).click();
    const list = panel.getByRole('list', { name: `Kernels running on ${SERVER}` });
    const short = kernelId.slice(0, 8);
    await expect(list.getByText(short, { exact: false })).toBeVisible();
    await page.screenshot({ path: artifactPath('kernels-on-server-light.png') });
    await list.getByRole('button', { name: `Attach kernel ${short} and open a notebook on it` }).click();

    // a notebook opens on that very kernel (same process on the remote), on the
    // kernel's server, in the kernel's directory
    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    const created = new RegExp(`^${SERVER}:${escapeRegExp(cwd.slice(1))}/Untitled\\d*\\.ipynb$`);
    await expect
      .poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path ?? ''))
      .toMatch(created);
    const drivePath: string = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.path);
    const notebook = '/' + drivePath.slice(SERVER.length + 1);
    expect((await request.get(`/remote/servers/${SERVER}/files${notebook}?content=0`)).status()).toBe(200);
    await page.notebook.setCell(0, 'code', 'import os; os.getpid(), os.getcwd()');
    await page.notebook.runCell(0);
    await expect
      .poll(async () => (await page.notebook.getCellTextOutput(0))?.join('').trim(), {
        timeout: 60_000
      })
      .toBe(`(${pid}, '${cwd}')`);
    await expect(list.getByText('attached here', { exact: false })).toBeVisible();

    // and Stop takes it off the remote
    const card = sidebar(page)
      .getByRole('list', { name: 'Remote sessions' })
      .getByRole('listitem')
      .filter({ has: page.getByRole('heading', { name: new RegExp(`Session ${PROFILE}`) }) });
    await card.getByRole('button', { name: `Stop session ${PROFILE}` }).click();
    await page.locator('.jp-Dialog').getByRole('button', { name: `Stop kernel ${PROFILE}` }).click();
    await expect(card.getByText('Stopped', { exact: true })).toBeVisible({ timeout: 60_000 });
    await expect
      .poll(async () => {
        const kernels = (await (await request.get(`/remote/servers/${SERVER}/kernels`)).json()) as Array<{
          kernel_id: string;
        }>;
        return kernels.some(k => k.kernel_id === kernelId);
      })
      .toBe(false);
    // the test's notebook leaves the kernel's directory as it found it
    await page.notebook.close(true);
    expect((await request.delete(`/remote/servers/${SERVER}/files${notebook}`)).status()).toBe(204);
  });

  test('a changed host key: red warning, no way to accept; the Security drawer removes the old key', async ({
    page
  }) => {
    const before = readHost();
    const host = await impostor();
    expect(host.fingerprint).not.toBe(before.fingerprint);

    await openSidebar(page);
    const panel = sidebar(page);
    await panel.getByRole('button', { name: `Connect to ${SERVER} and add a profile` }).click();

    const w = wizard(page);
    const warning = w.getByRole('alert').filter({ hasText: 'WARNING: the host key has CHANGED' });
    await expect(warning).toBeVisible({ timeout: 30_000 });
    await expect(warning.getByText(host.fingerprint)).toBeVisible();
    await expect(warning.getByText(before.fingerprint)).toBeVisible();
    await expect(
      warning.getByText(`jupyter remote hostkey remove ${host.host_id}`)
    ).toBeVisible();
    // no way to accept it: no Trust/Accept button anywhere in the wizard
    await expect(w.getByRole('button', { name: /trust|accept|continue/i })).toHaveCount(0);
    await expect(w.getByRole('button', { name: 'Next' })).toBeDisabled();
    await page.screenshot({ path: artifactPath('wizard-1-hostkey-changed-light.png') });

    await warning.getByRole('button', { name: 'Open the Security drawer' }).click();
    const table = panel.getByRole('table', { name: 'Trusted host keys' });
    await expect(table).toBeVisible();
    const row = table.getByRole('row').filter({ hasText: host.host_id });
    await expect(row).toHaveCount(1);
    // shortened in a narrow sidebar (issue 13): the whole fingerprint on hover
    await expect(row.locator(`[title="${before.fingerprint}"]`)).toBeVisible();
    await page.screenshot({ path: artifactPath('security-drawer-light.png') });

    await row.getByRole('button', { name: `Remove trusted key of ${host.host_id}` }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.getByText(before.fingerprint)).toBeVisible();
    await dialog.getByRole('button', { name: `Remove the key of ${host.host_id}` }).click();
    await expect(row).toHaveCount(0);
    await expect(panel.getByText('No trusted host keys yet.')).toBeVisible();

    // connecting again now shows the new key as unknown, to compare and trust (or not)
    await w.getByRole('button', { name: 'Test again' }).click();
    const prompt = w.getByRole('group', { name: 'Unknown host key' });
    await expect(prompt.getByLabel('SHA256 fingerprint')).toHaveText(host.fingerprint);
    // keyboard only: the buttons are real buttons
    await prompt.getByRole('button', { name: 'Cancel' }).focus();
    await page.keyboard.press('Enter');
    await expect(w.getByText('You did not trust the host key')).toBeVisible();
    await restore();
  });

  test('edit a server (validation at the field), remove it with its profile', async ({ page }) => {
    await openSidebar(page);
    const panel = sidebar(page);
    await panel.getByRole('button', { name: `Edit server ${SERVER}` }).click();
    const form = panel.getByRole('form', { name: `Edit server ${SERVER}` });
    await expect(form.getByLabel('Name', { exact: true })).toBeDisabled();
    const jump = form.getByLabel('Jump host', { exact: true });
    await jump.fill('bad host!');
    await form.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(jump).toHaveAttribute('aria-invalid', 'true');
    await expect(form.getByText(/jump/i).last()).toBeVisible();
    await jump.fill('');
    await form.getByRole('button', { name: 'Cancel' }).click();
    // the focus goes back to where it came from
    await expect(panel.getByRole('button', { name: `Edit server ${SERVER}` })).toBeFocused();

    await panel.getByRole('button', { name: `Remove server ${SERVER}` }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.getByText(`profile ${PROFILE}`)).toBeVisible();
    await dialog.getByRole('button', { name: `Remove server ${SERVER}` }).click();
    await expect(panel.getByText('No saved servers yet.')).toBeVisible();
    // its kernelspec left the launcher and the kernel picker
    await expect
      .poll(() =>
        page.evaluate(() => {
          const app = (window as any).jupyterapp;
          return Object.keys(app.serviceManager.kernelspecs.specs?.kernelspecs ?? {});
        })
      )
      .not.toContain(KERNEL);
  });
});

const UI_TESTS = path.resolve(__dirname, '..');
const VENV_JUPYTER = path.resolve(UI_TESTS, '..', '.venv', 'bin', 'jupyter');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
    server.on('error', reject);
  });
}

/**
 * Run a second `jupyter server` on this data dir, start a kernel of `kernelName`
 * through its REST API, stop that server (SIGTERM), return the kernel id.
 */
async function startKernelInOtherServer(kernelName: string): Promise<string> {
  const port = await freePort();
  const token = 'ui-tests-other-server';
  const root = fs.mkdtempSync(path.join(UI_TESTS, 'test-results', 'other-server-'));
  const log = fs.openSync(path.join(root, 'server.log'), 'w');
  const jupyter = fs.existsSync(VENV_JUPYTER) ? VENV_JUPYTER : 'jupyter';
  const child = spawn(
    jupyter,
    [
      'server',
      '--no-browser',
      '--allow-root',
      '--ip=127.0.0.1',
      `--port=${port}`,
      `--ServerApp.token=${token}`,
      `--ServerApp.root_dir=${root}`
    ],
    {
      env: { ...process.env, JUPYTER_DATA_DIR: path.join(UI_TESTS, '.jupyter-data') },
      stdio: ['ignore', log, log]
    }
  );
  const base = `http://127.0.0.1:${port}`;
  const headers = { Authorization: `token ${token}`, 'Content-Type': 'application/json' };
  try {
    await expect
      .poll(
        async () => {
          try {
            return (await fetch(`${base}/api/status`, { headers })).status;
          } catch {
            return 0;
          }
        },
        { timeout: 60_000 }
      )
      .toBe(200);
    const started = await fetch(`${base}/api/kernels`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: kernelName })
    });
    expect(started.status).toBe(201);
    const kernelId = ((await started.json()) as { id: string }).id;
    await expect
      .poll(
        async () => {
          const kernels = (await (
            await fetch(`${base}/remote/servers/${SERVER}/kernels`, { headers })
          ).json()) as Array<{ kernel_id: string; state: string }>;
          return kernels.find(k => k.kernel_id === kernelId)?.state;
        },
        { timeout: 60_000 }
      )
      .toBe('running');
    return kernelId;
  } finally {
    child.kill('SIGTERM');
    await new Promise<void>(resolve => {
      if (child.exitCode !== null) {
        resolve();
      } else {
        child.on('exit', () => resolve());
        // It detaches the kernel first thing ("left running for re-attach");
        // do not wait for the rest of a slow shutdown.
        setTimeout(() => {
          child.kill('SIGKILL');
        }, 5_000);
      }
    });
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// keep galata's typings in use (for page.evaluate on window.jupyterapp)
void galata;
