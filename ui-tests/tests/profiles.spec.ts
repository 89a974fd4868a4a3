/**
 * A new user's first hour (issue 13), end to end against the real sshd test
 * host (tests/harness/ui_host.py), whose login PATH starts with a system-like
 * Python that has no ipykernel and refuses pip (PEP 668's marker) and an
 * nvidia-smi stand-in with two GPUs:
 *
 *   two profiles on one environment have different names in the launcher,
 *   with our logo -> edit one in the wizard (the kernelspec follows) -> a
 *   kernel whose working directory vanished keeps its card with why and
 *   Retry, which starts it once the directory is back -> in the wizard,
 *   Install ipykernel into the system Python is refused by pip, Create an
 *   environment from it makes one on the remote, it is chosen, a missing
 *   working directory is created on request, and a kernel runs in the new
 *   environment -> the server card shows the GPUs -> fingerprints stay on one
 *   line in a narrow sidebar.
 *
 * Everything it made (server, key, profiles, directories, environment) is
 * removed at the end: remote.spec.ts starts from an empty sidebar.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { APIRequestContext, Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { artifactPath, readHost } from './testhost';

const SERVER = 'env-box';
const GONE_DIR = 'jr-ui-gone';
const NEW_DIR = 'jr-ui-new';
const ENV_NAME = 'jr-ui-env';

test.use({ autoGoto: true });

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('region', { name: 'Remote', exact: true });
}

async function openSidebar(page: IJupyterLabPageFixture, width = 340): Promise<void> {
  // after a reload JupyterLab may restore the sidebar while we open it: click its tab
  // only while it is not the current one, until the panel shows
  const tab = page.sidebar.getTabLocator('jp-remote-sidebar');
  await expect
    .poll(
      async () => {
        if (await sidebar(page).isVisible()) {
          return true;
        }
        if (!((await tab.getAttribute('class')) ?? '').includes('lm-mod-current')) {
          await tab.click();
        }
        return sidebar(page).isVisible();
      },
      { timeout: 30_000 }
    )
    .toBe(true);
  await page.sidebar.setWidth(width);
  await expect(sidebar(page)).toBeVisible();
}

async function kernelspecNames(request: APIRequestContext): Promise<Record<string, string>> {
  const specs = (await (await request.get('/api/kernelspecs')).json()).kernelspecs as Record<
    string,
    { spec: { display_name: string }; resources: Record<string, string> }
  >;
  return Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, s.spec.display_name]));
}

/** A directory in the remote user's home (the test host runs on this machine). */
function remoteDir(name: string): string {
  return path.join(readHost().home, name);
}

function makeRemoteDir(name: string): void {
  const dir = remoteDir(name);
  fs.mkdirSync(dir, { recursive: true });
  const { uid, gid } = fs.statSync(readHost().home);
  fs.chownSync(dir, uid, gid);
}

async function cleanUp(request: APIRequestContext): Promise<void> {
  const host = readHost();
  for (const profile of ['p-one', 'p-two', 'made']) {
    await request.delete(`/remote/profiles/${profile}`);
  }
  await request.delete(`/remote/servers/${SERVER}`);
  await request.delete(`/remote/hostkeys/${encodeURIComponent(host.host_id)}`);
  for (const dir of [GONE_DIR, NEW_DIR, path.join('.virtualenvs', ENV_NAME)]) {
    fs.rmSync(remoteDir(dir), { recursive: true, force: true });
  }
}

test.describe.serial('profiles, environments and GPUs against a real sshd', () => {
  test.afterAll(async ({ request }) => {
    await cleanUp(request);
  });

  test('profiles apart, edit, failed start with Retry, environment created, GPUs', async ({
    page,
    request
  }) => {
    test.setTimeout(600_000);
    const host = readHost();

    await test.step('two profiles on one environment differ in the launcher, with our logo', async () => {
      await cleanUp(request);
      const server = {
        name: SERVER,
        host: host.host,
        port: host.port,
        user: host.user,
        identity: host.identity,
        auth: 'key'
      };
      expect((await request.post('/remote/servers', { data: server })).status()).toBe(201);
      const trust = { server: SERVER, fingerprint: host.fingerprint };
      expect((await request.post('/remote/hostkeys', { data: trust })).status()).toBe(201);
      makeRemoteDir(GONE_DIR);
      for (const [name, cwd] of [
        ['p-one', `~/${GONE_DIR}`],
        ['p-two', '/tmp']
      ]) {
        const profile = { name, server: SERVER, python: host.remote_python, cwd };
        const saved = await request.post('/remote/profiles', { data: profile });
        expect(saved.status(), await saved.text()).toBe(201);
      }
      await page.reload();
      await page.waitForSelector('.jp-Launcher');
      const one = page.locator('.jp-LauncherCard').filter({ hasText: `(p-one, ~/${GONE_DIR})` });
      const two = page.locator('.jp-LauncherCard').filter({ hasText: '(p-two, /tmp)' });
      await expect(one.first()).toBeVisible();
      await expect(two.first()).toBeVisible();
      const names = await kernelspecNames(request);
      expect(names['remote-p-one']).not.toBe(names['remote-p-two']);
      // the kernel picker shows the same names (JupyterLab's kernelspecs)
      const picker = await page.evaluate(() => {
        const specs = (window as any).jupyterapp.serviceManager.kernelspecs.specs.kernelspecs;
        return [specs['remote-p-one'].display_name, specs['remote-p-two'].display_name];
      });
      expect(new Set(picker).size).toBe(2);
      // the launcher shows our logo for them (the kernelspec's logo-svg.svg, or a PNG)
      await expect(one.first().locator('img')).toHaveAttribute(
        'src',
        /remote-p-one\/logo-(svg\.svg|64x64\.png)$/
      );
      await page.screenshot({ path: artifactPath('launcher-two-profiles.png') });
    });

    await test.step('edit a profile from the sidebar: the kernelspec follows', async () => {
      await openSidebar(page);
      await sidebar(page).getByRole('button', { name: 'Edit profile p-two' }).click();
      const w = page.getByRole('tabpanel', { name: 'Edit: p-two' });
      await expect(w.getByRole('heading', { name: `Edit profile p-two on ${SERVER}` })).toBeVisible();
      await expect(w.getByLabel('Profile name')).toBeDisabled();
      await expect(w.getByLabel('Working directory on the server')).toHaveValue('/tmp');
      await w.getByLabel('Name in the launcher (optional)').fill('Two, in tmp');
      await page.screenshot({ path: artifactPath('wizard-edit-profile.png') });
      await w.getByRole('button', { name: 'Save', exact: true }).click();
      await expect(w.getByText('Profile p-two saved.')).toBeVisible({ timeout: 60_000 });
      expect((await kernelspecNames(request))['remote-p-two']).toBe('Two, in tmp');
      await expect(
        sidebar(page).getByRole('listitem', { name: 'Profile p-two' }).getByText('Two, in tmp')
      ).toBeVisible();
      await w.getByRole('button', { name: 'Close' }).click();
    });

    await test.step('a kernel whose directory vanished keeps its card with why, and Retry', async () => {
      fs.rmSync(remoteDir(GONE_DIR), { recursive: true, force: true });
      await sidebar(page).getByRole('button', { name: 'Open a notebook on profile p-one' }).click();
      // first the question (s23): the directory is gone; Create it, Edit profile, Open locally
      const question = page.getByRole('dialog').filter({ hasText: 'Directory not found' });
      await expect(question).toBeVisible({ timeout: 60_000 });
      await expect(question.getByRole('button', { name: /^Create .* on / })).toBeVisible();
      await expect(question.getByRole('button', { name: 'Edit profile' })).toBeVisible();
      await question.getByRole('button', { name: /^Open / }).click(); // locally: the kernel still fails
      await expect(question).toHaveCount(0);
      // JupyterLab says the start failed; the card keeps why
      const dialog = page.getByRole('dialog');
      await expect(dialog).toBeVisible({ timeout: 90_000 });
      await dialog.getByRole('button').last().click();
      // JupyterLab then offers another kernel: keep none (the card's Retry starts it)
      const select = page.getByRole('dialog').filter({ hasText: 'Select Kernel' });
      await select
        .getByRole('button', { name: 'No Kernel' })
        .click({ timeout: 15_000 })
        .catch(() => undefined); // not asked: nothing to dismiss
      await expect(page.getByRole('dialog')).toHaveCount(0);
      const card = sidebar(page)
        .getByRole('list', { name: 'Remote sessions' })
        .getByRole('listitem')
        .filter({ hasText: 'did not start' });
      await expect(card).toBeVisible({ timeout: 60_000 });
      await expect(card.getByText(/working directory .* does not exist/)).toBeVisible();
      await expect(card.getByText('Stopped', { exact: true })).toBeVisible();
      await page.screenshot({ path: artifactPath('session-start-failed.png') });
      makeRemoteDir(GONE_DIR);
      await card.getByRole('button', { name: /Retry starting the kernel/ }).click();
      await page.notebook.setCell(0, 'code', 'import os; os.getcwd()');
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), { timeout: 90_000 })
        .toContain(GONE_DIR);
      await page.notebook.close(true);
    });

    await test.step('pip refuses the system Python; an environment is created from it', async () => {
      await sidebar(page).getByRole('button', { name: `Connect to ${SERVER} and add a profile` }).click();
      const w = page.getByRole('tabpanel', { name: `Connect: ${SERVER}` });
      await expect(w.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({ timeout: 60_000 });
      await w.getByRole('button', { name: 'Next' }).click();
      const install = w.getByRole('button', { name: `Install ipykernel into ${host.system_python}` });
      await expect(install).toBeVisible({ timeout: 60_000 });
      await install.click();
      // our error (pip's own output, in the log, words it differently)
      await expect(w.getByText(/managed by the system \(PEP 668, externally-managed/)).toBeVisible({
        timeout: 120_000
      });
      await expect(w.getByRole('log', { name: 'pip output' })).toContainText('externally-managed-environment');
      await w.getByRole('button', { name: 'Create an environment from it' }).click();
      const form = w.getByRole('form', { name: 'New environment' });
      await expect(form.getByLabel('Base Python')).toHaveValue(host.system_python);
      await form.getByLabel('Name').fill(ENV_NAME);
      await form.getByRole('button', { name: 'Create environment' }).click();
      await expect(w.getByRole('log', { name: 'Environment creation output' })).toContainText('-m venv', {
        timeout: 60_000
      });
      await page.screenshot({ path: artifactPath('wizard-2-create-environment.png') });
      await expect(w.getByText('Environment created and chosen.')).toBeVisible({ timeout: 300_000 });
      const made = `${host.home}/.virtualenvs/${ENV_NAME}/bin/python`;
      await expect(w.getByRole('radio', { name: new RegExp(ENV_NAME) })).toBeChecked();
      await w.getByRole('button', { name: 'Next' }).click();

      await w.getByLabel('Profile name').fill('made');
      await w.getByLabel('Working directory on the server').fill(`~/${NEW_DIR}`);
      await expect(w.getByRole('group', { name: 'GPUs the kernel may use' })).toBeVisible();
      await w.getByRole('button', { name: 'Start' }).click();
      const create = w.getByRole('button', { name: `Create ~/${NEW_DIR} and start` });
      await expect(create).toBeVisible({ timeout: 60_000 });
      await create.click();
      await expect(w.getByText('Profile made saved.')).toBeVisible({ timeout: 60_000 });
      expect(fs.statSync(remoteDir(NEW_DIR)).isDirectory()).toBe(true);

      await w.getByRole('button', { name: 'Open notebook' }).click();
      await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
      await page.notebook.setCell(0, 'code', 'import sys, os; print(sys.executable, os.getcwd())');
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), { timeout: 90_000 })
        .toContain(`${made} ${remoteDir(NEW_DIR)}`);
      await page.notebook.close(true);
    });

    await test.step('the server card shows the GPUs the probe saw', async () => {
      const card = sidebar(page).getByRole('group', { name: `GPUs of ${SERVER}` });
      // the wizard's tab is restored active: do not wait for the Launcher (galata's default)
      await page.reload({ waitForIsReady: false } as Parameters<typeof page.reload>[0]);
      await openSidebar(page);
      await expect(card).toBeVisible({ timeout: 30_000 });
      await expect(card.getByText('0 · NVIDIA A100-SXM4-80GB')).toBeVisible();
      await expect(card.getByText('10.3/80.0 GiB · 87% busy · 2 processes')).toBeVisible();
    });

    await test.step('a narrow sidebar keeps fingerprints on one line, whole on hover, copyable', async () => {
      await openSidebar(page, 250);
      await sidebar(page).getByRole('button', { name: /Security: trusted host keys/ }).click();
      const table = sidebar(page).getByRole('table', { name: 'Trusted host keys' });
      const fingerprint = table.locator('.jp-remote-Copyable-text').first();
      await expect(fingerprint).toHaveAttribute('title', host.fingerprint);
      const box = await fingerprint.boundingBox();
      const lineHeight = await fingerprint.evaluate(el => parseFloat(getComputedStyle(el).lineHeight) || 16);
      expect(box!.height).toBeLessThan(lineHeight * 1.6);
      await expect(table.getByRole('button', { name: /Copy fingerprint of/ }).first()).toBeVisible();
      const python = sidebar(page)
        .getByRole('listitem', { name: 'Profile made' })
        .locator('.jp-remote-Copyable-text')
        .first();
      const pbox = await python.boundingBox();
      expect(pbox!.height).toBeLessThan(lineHeight * 1.6);
      await page.screenshot({ path: artifactPath('sidebar-narrow.png') });
    });
  });
});
