/**
 * Remote files, end to end in chromium against the real sshd test host:
 *
 *   the Remote Files panel shows the saved server's drive (JupyterLab's own
 *   file browser over SFTP) at the remote home -> a launcher at the local root
 *   still creates its notebook locally -> a notebook stored on the
 *   remote opens from it and its kernel starts on the server's profile (the
 *   drive's notebooks prefer their server's kernels) -> a cell prints
 *   os.getcwd(): the notebook's remote directory -> edit, save (the file on the
 *   remote has the edit) -> reload the page: the notebook is back with the
 *   edit -> a file dropped on the listing is uploaded (in chunks, with
 *   progress) -> the kernel reads it.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { artifactPath, readHost } from './testhost';

const SERVER = 'ui-files';
const PROFILE = 'uifiles';
const DIR = 'jr-ui-files/proj';

test.use({ autoGoto: true });

/** REST path of a remote path (absolute) under the server's files routes. */
function route(kind: string, remote: string): string {
  const parts = remote.replace(/^\/+/, '').split('/').map(encodeURIComponent);
  return `/remote/servers/${SERVER}/${kind}/${parts.join('/')}`;
}

const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      id: 'cwd',
      metadata: {},
      execution_count: null,
      outputs: [],
      source: 'import os; print(os.getcwd())'
    }
  ],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5
};

/** The text of the output area under the notebook's cell number `index`. */
function outputOf(page: IJupyterLabPageFixture, index: number) {
  return page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').nth(index).locator('.jp-OutputArea-output');
}

/** Wait until the notebook's remote kernel is connected and idle (the status bar says so). */
async function kernelIdle(page: IJupyterLabPageFixture): Promise<void> {
  const status = page.getByRole('button', { name: new RegExp(`\\(${PROFILE}\\) \\| Idle`) });
  await expect(status).toBeVisible({ timeout: 120_000 });
}

async function openPanel(page: IJupyterLabPageFixture): Promise<void> {
  const tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="jp-remote-files"]');
  await expect(tab).toBeVisible();
  if ((await tab.getAttribute('aria-selected')) !== 'true') {
    await tab.click();
  }
  await expect(page.locator('#jp-remote-files')).toBeVisible();
}

/** The remote home, once known (the clean-up removes what the test made there). */
let home = '';

test.describe.serial('Remote files', () => {
  // Whatever happened, nothing is left for the next spec: its kernels, the remote
  // directory, the profile and the server (a left server would change the others' start).
  test.afterEach(async ({ request }) => {
    for (const session of await (await request.get('/api/sessions')).json()) {
      await request.delete(`/api/sessions/${session.id}`);
    }
    if (home) {
      await request.delete(route('files', `${home}/jr-ui-files`));
    }
    await request.delete(`/remote/profiles/${PROFILE}`);
    await request.delete(`/remote/servers/${SERVER}`);
    // the key stays trusted after its server goes: the next spec meets it unknown
    await request.delete(`/remote/hostkeys/${encodeURIComponent(readHost().host_id)}`);
  });

  test('drive -> remote notebook runs in its directory -> edit, save, reload -> drop a file', async ({
    page,
    request
  }) => {
    const host = readHost();
    let project = '';

    await test.step('save the test host as a server with a profile (REST); a notebook on it', async () => {
      const saved = await request.post('/remote/servers', {
        data: { name: SERVER, host: host.host, port: host.port, user: host.user, identity: host.identity, auth: 'key' }
      });
      expect(saved.status()).toBe(201);
      const trusted = await request.post('/remote/hostkeys', {
        data: { server: SERVER, fingerprint: host.fingerprint }
      });
      expect(trusted.status()).toBe(201);
      const profile = await request.post('/remote/profiles', {
        data: { name: PROFILE, server: SERVER, python: host.remote_python }
      });
      expect(profile.status()).toBe(201);
      home = (await (await request.get(`/remote/servers/${SERVER}/files/~?content=0`)).json()).path;
      project = `${home}/${DIR}`;
      for (const dir of ['jr-ui-files', DIR]) {
        await request.put(route('files', `${home}/${dir}`), { data: { type: 'directory' } });
      }
      const nb = await request.put(route('files', `${project}/train.ipynb`), {
        data: { type: 'notebook', format: 'json', content: NOTEBOOK }
      });
      expect(nb.status()).toBe(200);
      await page.reload();
    });

    await test.step('the Remote Files panel shows the server at its home directory', async () => {
      await openPanel(page);
      const select = page.getByLabel('Server whose files are shown');
      await expect(select).toHaveValue(SERVER);
      const listing = page.locator('#jp-remote-files .jp-DirListing-content');
      await expect(listing.getByText('jr-ui-files', { exact: true })).toBeVisible({ timeout: 30_000 });
      await listing.getByText('jr-ui-files', { exact: true }).dblclick();
      await listing.getByText('proj', { exact: true }).dblclick();
      await expect(listing.getByText('train.ipynb', { exact: true })).toBeVisible();
      await page.screenshot({ path: artifactPath('files-panel-light.png') });
    });

    await test.step('a launcher at the local root creates its notebook locally, not in the remote folder shown', async () => {
      // the local file browser at its root (a launcher's folder is the local browser's) ...
      await page.evaluate(() =>
        (window as any).jupyterapp.commands.execute('filebrowser:go-to-path', { path: '/', dontShowBrowser: true })
      );
      // ... and the Remote Files browser the one used last (its listing has the focus)
      await page.locator('#jp-remote-files .jp-DirListing-content').getByText('train.ipynb', { exact: true }).click();
      await page.menu.clickMenuItem('File>New Launcher');
      const launcher = page.locator('.jp-Launcher:visible');
      await expect.soft(launcher.locator('.jp-Launcher-cwd h3')).toHaveText('.'); // the local root, shown
      await launcher
        .locator('.jp-LauncherCard[data-category="Notebook"]')
        .filter({ hasText: 'Python 3 (ipykernel)' })
        .first()
        .click();
      await expect(page.getByRole('tab', { name: /^Untitled\d*\.ipynb$/ })).toBeVisible({ timeout: 30_000 });
      const created = await page.evaluate(
        () => (window as any).jupyterapp.shell.currentWidget?.context?.path as string | undefined
      );
      expect(created).toMatch(/^Untitled\d*\.ipynb$/); // no drive: the local root
      expect((await request.get(`/api/contents/${created}?content=0`)).status()).toBe(200);
      const remote = await (await request.get(route('files', project))).json();
      expect(remote.content.map((entry: { name: string }) => entry.name)).toEqual(['train.ipynb']);
      await page.getByRole('tab', { name: created }).locator('.lm-TabBar-tabCloseIcon').click();
      // a new notebook counts as changed once its kernel is set: JupyterLab asks before closing
      const discard = page.locator('.jp-Dialog').getByRole('button', { name: /Discard|Don't save/ });
      await discard.click({ timeout: 10_000 }).catch(() => undefined);
      await expect(page.getByRole('tab', { name: created })).toHaveCount(0);
      for (const session of await (await request.get('/api/sessions')).json()) {
        await request.delete(`/api/sessions/${session.id}`);
      }
      expect((await request.delete(`/api/contents/${created}`)).status()).toBe(204);
    });

    await test.step("open the remote notebook: it runs on the server's profile in its directory", async () => {
      await page.locator('#jp-remote-files .jp-DirListing-content').getByText('train.ipynb', { exact: true }).dblclick();
      await expect(page.getByRole('tab', { name: 'train.ipynb' })).toBeVisible();
      // the notebook named python3 (a local kernel): the drive's notebook prefers its server's
      await expect(page.locator('.jp-NotebookPanel-toolbar .jp-KernelName')).toHaveText(/uifiles|ui-files/, {
        timeout: 60_000
      });
      await kernelIdle(page); // a cell run before the session exists is dropped by JupyterLab
      await page.locator('.jp-NotebookPanel .jp-Cell').first().click();
      await page.keyboard.press('Shift+Enter');
      await expect(outputOf(page, 0)).toHaveText(project, { timeout: 90_000 });
      await page.screenshot({ path: artifactPath('files-notebook-cwd-light.png') });
    });

    await test.step('edit and save: the file on the remote has the edit', async () => {
      const cell = page.locator('.jp-NotebookPanel .jp-Cell').nth(1);
      await cell.click();
      await page.keyboard.type("print('edited on the laptop')");
      await page.keyboard.press('Control+s');
      await expect
        .poll(async () => JSON.stringify((await (await request.get(route('files', `${project}/train.ipynb`))).json()).content), {
          timeout: 30_000
        })
        .toContain('edited on the laptop');
      const checkpoints = await (await request.get(route('checkpoints', `${project}/train.ipynb`))).json();
      expect(checkpoints.map((c: { id: string }) => c.id)).toEqual(['checkpoint']);
    });

    await test.step('reload the page: the remote notebook is back with the edit', async () => {
      // Galata's ready check wants the Launcher tab active; the notebook's tab is
      // (galata's reload takes waitForIsReady; its type is Playwright's)
      await page.reload({ waitForIsReady: false } as Parameters<typeof page.reload>[0]);
      await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
      await expect(page.getByRole('tab', { name: 'train.ipynb' })).toBeVisible({ timeout: 60_000 });
      await page.getByRole('tab', { name: 'train.ipynb' }).click();
      await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)').getByText("print('edited on the laptop')")).toBeVisible({
        timeout: 60_000
      });
    });

    await test.step('drop a file on the listing: uploaded in chunks; the kernel reads it', async () => {
      await openPanel(page);
      const listing = page.locator('#jp-remote-files .jp-DirListing');
      await expect(listing.getByText('train.ipynb', { exact: true })).toBeVisible({ timeout: 30_000 });
      // a file from the desktop: JupyterLab's own drop handler gets it as the OS would give it
      await page.evaluate(async () => {
        const line = 'dropped from the desktop\n';
        const file = new File([line.repeat(Math.ceil((2.5 * 1024 * 1024) / line.length))], 'dropped.txt', {
          type: 'text/plain'
        });
        const transfer = new DataTransfer();
        transfer.items.add(file);
        // the listing's content node listens for native drops (a drop does not reach it from its parent)
        const target = document.querySelector('#jp-remote-files .jp-DirListing-content') as HTMLElement;
        const event = new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: transfer });
        const entry = transfer.items[0].webkitGetAsEntry?.();
        if (!entry) {
          // headless chromium has no file entries for a made-up drag: give the handler one
          Object.defineProperty(event, 'dataTransfer', {
            value: {
              files: transfer.files,
              items: [
                {
                  webkitGetAsEntry: () => ({
                    isFile: true,
                    isDirectory: false,
                    name: file.name,
                    file: (ok: (f: File) => void) => ok(file)
                  })
                }
              ]
            }
          });
        }
        target.dispatchEvent(event);
      });
      await expect(listing.getByText('dropped.txt', { exact: true })).toBeVisible({ timeout: 60_000 });
      const model = await (await request.get(route('files', `${project}/dropped.txt`) + '?content=0')).json();
      expect(model.size).toBeGreaterThan(2 * 1024 * 1024);
      await page.getByRole('tab', { name: 'train.ipynb' }).click();
      const cell = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').nth(1);
      await cell.click();
      await page.keyboard.press('Control+a');
      await page.keyboard.type("data = open('dropped.txt').read(); print(len(data) > 2_000_000, data.splitlines()[0])");
      await kernelIdle(page);
      await page.keyboard.press('Shift+Enter');
      await expect(outputOf(page, 1)).toHaveText('True dropped from the desktop', { timeout: 60_000 });
      await page.screenshot({ path: artifactPath('files-dropped-light.png') });
    });

    await test.step('clean up: the notebook closed, the directory removed, the server forgotten', async () => {
      await page.getByRole('tab', { name: 'train.ipynb' }).locator('.lm-TabBar-tabCloseIcon').click();
      const dialog = page.locator('.jp-Dialog');
      if (await dialog.isVisible().catch(() => false)) {
        await dialog.getByRole('button', { name: /Discard|Don't save/ }).click();
      }
      const sessions = await (await request.get('/api/sessions')).json();
      for (const session of sessions) {
        await request.delete(`/api/sessions/${session.id}`);
      }
      expect((await request.delete(route('files', `${home}/jr-ui-files`))).status()).toBe(204);
      await request.delete(`/remote/profiles/${PROFILE}`);
      expect((await request.delete(`/remote/servers/${SERVER}`)).status()).toBeLessThan(300);
    });
  });
});
