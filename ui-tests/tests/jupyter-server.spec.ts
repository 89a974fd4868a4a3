/**
 * A Jupyter server that already runs elsewhere (issue 15), end to end against a
 * real `jupyter server` with a token (python -m tests.harness.jupyter_servers):
 *
 *   add it through the form (kind Jupyter server, URL, token) -> its kernelspec
 *   is listed on its item -> File > New > Notebook: pick "Python 3 (ipykernel)
 *   — NAME (Jupyter)" in JupyterLab's kernel picker -> run a cell, which runs in
 *   the remote server's kernel (its process, its root dir) -> the kernel's card
 *   names the remote kernel -> Stop on the card: the remote server has no kernel
 *   left -> a start the server refuses (a wrong token) keeps its card with why
 *   and the fix; with the token right again, Retry on the card starts the same
 *   kernelspec in the notebook -> the server is removed again (the other specs
 *   start from no server).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { artifactPath } from './testhost';

const NAME = 'uijup';
const DISPLAY = `Python 3 (ipykernel) — ${NAME} (Jupyter)`;
const ROOT = path.resolve(__dirname, '..', '..');
const DETAILS = path.resolve(__dirname, '..', '.testhost', 'jupyter-server.json');

test.use({ autoGoto: true });

interface IPlainJupyter {
  url: string;
  token: string;
}

let server: ChildProcess | null = null;

/** Start the plain Jupyter server (the harness writes its URL and token, 0600). */
async function startPlainJupyter(): Promise<IPlainJupyter> {
  fs.rmSync(DETAILS, { force: true });
  fs.mkdirSync(path.dirname(DETAILS), { recursive: true });
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  const python = process.env.PYTHON || (fs.existsSync(venv) ? venv : 'python3');
  const log = fs.openSync(path.join(path.dirname(DETAILS), 'jupyter-server.log'), 'w');
  server = spawn(python, ['-m', 'tests.harness.jupyter_servers', '--json', DETAILS], {
    cwd: ROOT,
    stdio: ['ignore', log, log]
  });
  await expect.poll(() => fs.existsSync(DETAILS), { timeout: 180_000, intervals: [200, 500] }).toBe(true);
  return JSON.parse(fs.readFileSync(DETAILS, 'utf-8')) as IPlainJupyter;
}

/** The kernels the plain server runs, asked with its token (as any client would). */
async function remoteKernels(remote: IPlainJupyter): Promise<string[]> {
  const response = await fetch(`${remote.url}api/kernels`, {
    headers: { Authorization: `token ${remote.token}` }
  });
  expect(response.ok).toBeTruthy();
  return ((await response.json()) as Array<{ id: string }>).map(k => k.id);
}

/** PATCH the saved server's token, as the form's Edit does (the test server checks no XSRF). */
async function setToken(token: string): Promise<void> {
  const port = Number(process.env.UI_TESTS_PORT || 18888);
  const response = await fetch(`http://127.0.0.1:${port}/remote/servers/${NAME}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token })
  });
  expect(response.ok).toBeTruthy();
}

/** Stop the kernel of a card (confirming when asked); nothing is left on the remote. */
async function stopFromCard(page: IJupyterLabPageFixture, card: Locator, remote: IPlainJupyter): Promise<void> {
  await card.getByRole('button', { name: /^Stop session / }).click();
  // a kernel's Stop may ask first (its variables are lost)
  const confirm = page.locator('.jp-Dialog').getByRole('button', { name: /Stop kernel/ });
  await confirm
    .waitFor({ timeout: 3_000 })
    .then(() => confirm.click())
    .catch(() => undefined);
  await expect(card.getByText('Stopped', { exact: true })).toBeVisible({ timeout: 60_000 });
  await expect.poll(() => remoteKernels(remote), { timeout: 30_000 }).toEqual([]);
}

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('region', { name: 'Remote', exact: true });
}

test.describe.serial('A Jupyter server that already runs elsewhere', () => {
  let remote: IPlainJupyter;

  test.beforeAll(async () => {
    remote = await startPlainJupyter();
  });

  test.afterAll(async () => {
    // the other specs start from no saved server (the test server checks no token or XSRF)
    const port = Number(process.env.UI_TESTS_PORT || 18888);
    await fetch(`http://127.0.0.1:${port}/remote/servers/${NAME}`, { method: 'DELETE' }).catch(() => undefined);
    server?.kill('SIGTERM');
    server = null;
  });

  test('add it in the form, pick its kernel in the picker, run a cell, Stop from its card', async ({ page }) => {
    await test.step('add the server through the form: kind Jupyter server, URL, token', async () => {
      await page.sidebar.openTab('jp-remote-sidebar');
      await page.sidebar.setWidth(360);
      const panel = sidebar(page);
      await expect(panel).toBeVisible();
      await panel.getByRole('button', { name: 'Add server', exact: true }).click();
      const form = panel.getByRole('form', { name: 'Add a server' });
      await form.getByRole('radio', { name: 'Jupyter server' }).check();
      await form.getByLabel('Name', { exact: true }).fill(NAME);
      // a token inside the URL is refused at the field, with where to give it
      await form.getByLabel('URL', { exact: true }).fill(`${remote.url}lab?token=${remote.token}`);
      await form.getByRole('button', { name: 'Save and list kernels' }).click();
      await expect(form.getByText(/Leave the token out of the URL/)).toBeVisible();
      await form.getByLabel('URL', { exact: true }).fill(remote.url);
      await form.locator('input[name="token"]').fill(remote.token);
      await expect(form.getByLabel('Through the SSH server')).toHaveValue('');
      await page.screenshot({ path: artifactPath('jupyter-server-form-light.png') });
      await form.getByRole('button', { name: 'Save and list kernels' }).click();
      await expect(form).toHaveCount(0);
    });

    await test.step('its item shows the URL and lists its kernelspec', async () => {
      const item = sidebar(page)
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: NAME, exact: true }) });
      await expect(item.getByText(remote.url).first()).toBeVisible();
      await expect(item.getByRole('listitem', { name: `Kernelspec ${DISPLAY}` })).toBeVisible({ timeout: 60_000 });
      // the kernelspec was written and JupyterLab's picker knows it
      await expect
        .poll(
          () =>
            page.evaluate(() => {
              const app = (window as any).jupyterapp;
              return Object.keys(app.serviceManager.kernelspecs.specs?.kernelspecs ?? {});
            }),
          { timeout: 30_000 }
        )
        .toContain(`remote-${NAME}--python3`);
      await page.screenshot({ path: artifactPath('jupyter-server-item-light.png') });
    });

    await test.step('File > New > Notebook: pick its kernel in the picker, run a cell there', async () => {
      await page.menu.clickMenuItem('File>New>Notebook');
      const dialog = page.locator('.jp-Dialog');
      await dialog.waitFor();
      await dialog.getByRole('combobox').selectOption({ label: DISPLAY });
      await dialog.locator('.jp-mod-accept').click();
      await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
      await page.notebook.setCell(0, 'code', 'import os; print(os.getcwd().endswith("notebooks"), 6 * 7)');
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), { timeout: 90_000 })
        .toContain('True 42');
      expect(await remoteKernels(remote)).toHaveLength(1); // it ran in the remote server's kernel
    });

    await test.step('the card names the remote kernel; Stop: nothing is left on the remote server', async () => {
      const card = sidebar(page)
        .getByRole('list', { name: 'Remote sessions' })
        .getByRole('listitem')
        .filter({ hasText: 'on the Jupyter server' });
      await expect(card.getByText('Running', { exact: true })).toBeVisible({ timeout: 30_000 });
      await expect(card.getByText(NAME, { exact: true })).toBeVisible();
      const [remoteId] = await remoteKernels(remote);
      await expect(card.getByText(`(its kernel ${remoteId.slice(0, 8)})`)).toBeVisible();
      await page.screenshot({ path: artifactPath('jupyter-server-session-light.png') });
      await stopFromCard(page, card, remote);
    });
  });

  test('a start refused for a wrong token keeps its card: why, the fix, and Retry starts it again', async ({ page }) => {
    await page.sidebar.openTab('jp-remote-sidebar');
    await page.sidebar.setWidth(360);
    await setToken('not-the-token');
    await page.sidebar.openTab('jp-remote-sidebar');
    const panel = sidebar(page);
    await panel.getByRole('button', { name: `Open a notebook on ${DISPLAY}` }).click({ timeout: 60_000 });
    // JupyterLab says the start failed; the card keeps why and what to do
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
    const card = panel
      .getByRole('list', { name: 'Remote sessions' })
      .getByRole('listitem')
      .filter({ hasText: 'did not start' });
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card.getByText(/refused the token/)).toBeVisible();
    await expect(card.getByText('Fix:')).toBeVisible();
    await expect(card.getByText('Stopped', { exact: true })).toBeVisible();
    await page.screenshot({ path: artifactPath('jupyter-server-start-failed-light.png') });
    expect(await remoteKernels(remote)).toEqual([]);

    await setToken(remote.token);
    await card.getByRole('button', { name: /Retry starting the kernel/ }).click();
    await page.notebook.setCell(0, 'code', 'print(6 * 7)');
    await page.notebook.runCell(0);
    await expect
      .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), { timeout: 90_000 })
      .toContain('42');
    const started = await remoteKernels(remote);
    expect(started).toHaveLength(1); // the same kernelspec, on the same server
    const running = panel
      .getByRole('list', { name: 'Remote sessions' })
      .getByRole('listitem')
      .filter({ hasText: `(its kernel ${started[0].slice(0, 8)})` });
    await expect(running.getByText('Running', { exact: true })).toBeVisible({ timeout: 30_000 });
    await stopFromCard(page, running, remote);
  });
});
