/**
 * A kernel in a Slurm job (issue 16), end to end against a real Slurm cluster
 * (tests/harness/slurm_ui_host.py: slurmctld on this machine, one compute node in
 * its own network namespace, partitions `main` and `tiny`) behind its login
 * node's sshd:
 *
 *   the wizard on that server offers "Run the kernel in a Slurm job" with the
 *   partitions listed -> a profile on `tiny` is saved and its notebook opened
 *   while another job holds the partition's one CPU -> the session card shows
 *   Queued with the scheduler's reason -> that job ends -> Running, with the
 *   job id and node -> the kernel says it runs on the compute node in that job
 *   -> Stop cancels the job (squeue is empty).
 *
 * Everything it made (server, key, profile, jobs) is removed at the end.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { APIRequestContext, Locator } from '@playwright/test';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { artifactPath } from './testhost';

const SERVER = 'slurm-login';
const PROFILE = 'in-a-job';
const ROOT = path.resolve(__dirname, '..', '..');
const DETAILS = path.resolve(__dirname, '..', '.testhost', 'slurm-host.json');

interface ISlurmHost {
  host: string;
  port: number;
  user: string;
  identity: string;
  host_id: string;
  fingerprint: string;
  remote_python: string;
  slurm_conf: string;
  node: string;
}

let child: ChildProcess | null = null;

function python(): string {
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return process.env.PYTHON || (fs.existsSync(venv) ? venv : 'python3');
}

async function startCluster(): Promise<ISlurmHost> {
  fs.rmSync(DETAILS, { force: true });
  fs.mkdirSync(path.dirname(DETAILS), { recursive: true });
  const log = fs.openSync(path.join(path.dirname(DETAILS), 'slurm-host.log'), 'w');
  child = spawn(python(), ['-m', 'tests.harness.slurm_ui_host', '--json', DETAILS], {
    cwd: ROOT,
    stdio: ['ignore', log, log]
  });
  const deadline = Date.now() + 180_000;
  while (!fs.existsSync(DETAILS)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error('tests.harness.slurm_ui_host did not start; see ui-tests/.testhost/slurm-host.log');
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  return JSON.parse(fs.readFileSync(DETAILS, 'utf-8')) as ISlurmHost;
}

async function stopCluster(): Promise<void> {
  const running = child;
  child = null;
  if (running === null || running.exitCode !== null) {
    return;
  }
  const exited = new Promise(resolve => running.once('exit', resolve));
  running.kill('SIGTERM');
  await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 60_000))]);
}

/** A Slurm command as the cluster's user (the tests run as root, as the harness). */
function slurmAs(host: ISlurmHost, ...argv: string[]): string {
  return execFileSync(
    'runuser',
    ['-u', host.user, '--', 'env', `SLURM_CONF=${host.slurm_conf}`, ...argv],
    { cwd: '/tmp', encoding: 'utf-8', timeout: 60_000 }
  );
}

function jobsOf(host: ISlurmHost): string[] {
  return slurmAs(host, 'squeue', '-h', '-u', host.user, '-o', '%i')
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean);
}

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('region', { name: 'Remote', exact: true });
}

function sessionCard(page: IJupyterLabPageFixture): Locator {
  return sidebar(page)
    .getByRole('list', { name: 'Remote sessions' })
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name: new RegExp(`Session ${PROFILE}`) }) });
}

async function cleanUp(request: APIRequestContext, host: ISlurmHost | null): Promise<void> {
  await request.delete(`/remote/profiles/${PROFILE}`);
  await request.delete(`/remote/servers/${SERVER}`);
  if (host) {
    await request.delete(`/remote/hostkeys/${encodeURIComponent(host.host_id)}`);
  }
}

test.use({ autoGoto: true });

test.describe.serial('a kernel in a Slurm job against a real cluster', () => {
  let host: ISlurmHost | null = null;

  test.beforeAll(async () => {
    test.setTimeout(240_000);
    host = await startCluster();
  });

  test.afterAll(async ({ request }) => {
    await cleanUp(request, host);
    await stopCluster();
  });

  test('wizard with partitions -> queued with its reason -> running with the job id -> Stop', async ({
    page,
    request
  }) => {
    test.setTimeout(600_000);
    const h = host as ISlurmHost;
    await cleanUp(request, h);
    let notebook = ''; // the new notebook's drive path (removed at the end)

    await test.step('the wizard on the login node offers a Slurm job, partitions listed', async () => {
      const server = {
        name: SERVER,
        host: h.host,
        port: h.port,
        user: h.user,
        identity: h.identity,
        auth: 'key'
      };
      expect((await request.post('/remote/servers', { data: server })).status()).toBe(201);
      const trust = { server: SERVER, fingerprint: h.fingerprint };
      expect((await request.post('/remote/hostkeys', { data: trust })).status()).toBe(201);
      await page.reload();
      await page.sidebar.openTab('jp-remote-sidebar');
      await page.sidebar.setWidth(360);
      await sidebar(page).getByRole('button', { name: `Connect to ${SERVER} and add a profile` }).click();
      const w = page.getByRole('tabpanel', { name: `Connect: ${SERVER}` });
      await expect(w.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({
        timeout: 60_000
      });
      await w.getByRole('button', { name: 'Next' }).click();
      await expect(w.getByRole('heading', { name: 'Step 2 of 3: Environment' })).toBeVisible();
      await w.getByLabel('Path of a Python interpreter on the server').fill(h.remote_python);
      await expect(w.getByRole('radio', { name: 'Another interpreter' })).toBeChecked();
      await w.getByRole('button', { name: 'Next' }).click();
      await expect(w.getByRole('heading', { name: 'Step 3 of 3: Review' })).toBeVisible();
      await w.getByLabel('Profile name').fill(PROFILE);
      await w.getByLabel('Working directory on the server').fill('/tmp');
      // shown once the probe (environments and Slurm in one round trip) has answered
      await w.getByLabel(/Run the kernel in a Slurm job/).check({ timeout: 90_000 });
      const partition = w.getByLabel('Partition', { exact: true });
      await expect(partition.locator('option', { hasText: /^main/ })).toHaveCount(1);
      await expect(partition.locator('option', { hasText: /^tiny/ })).toHaveCount(1);
      await partition.selectOption('tiny');
      await w.getByLabel('Time limit', { exact: true }).fill('5');
      await page.screenshot({ path: artifactPath('wizard-slurm-light.png') });
      // the partition's one CPU is taken: the kernel's job has to wait
      slurmAs(h, 'sbatch', '--parsable', '-p', 'tiny', '-t', '5', '-J', 'blocker', '-o', '/dev/null', '--wrap', 'sleep 600');
      await w.getByRole('button', { name: 'Start' }).click();
      await expect(w.getByText(`Profile ${PROFILE} saved.`)).toBeVisible({ timeout: 60_000 });
      await w.getByRole('button', { name: 'Open notebook' }).click();
      // created on the login node, in the profile's working directory
      await expect
        .poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path ?? ''))
        .toMatch(new RegExp(`^${SERVER}:tmp/Untitled\\d*\\.ipynb$`));
      notebook = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.context.path);
    });

    let jobId = '';
    await test.step('the card shows the job queued with the reason', async () => {
      const card = sessionCard(page);
      await expect(card.getByText('Queued', { exact: true })).toBeVisible({ timeout: 60_000 });
      await expect(card.getByText(/Resources/)).toBeVisible();
      jobId = ((await card.locator('.jp-remote-Session-job code').textContent()) ?? '').trim();
      expect(jobId).toMatch(/^[0-9]+$/);
      expect(jobsOf(h)).toContain(jobId);
      await page.screenshot({ path: artifactPath('session-slurm-queued-light.png') });
    });

    await test.step('the blocker ends: running, with the job id and node', async () => {
      slurmAs(h, 'scancel', '-n', 'blocker');
      const card = sessionCard(page);
      await expect(card.getByText('Running', { exact: true })).toBeVisible({ timeout: 90_000 });
      await expect(card.locator('.jp-remote-Session-job code')).toHaveText(jobId);
      await expect(card.getByText(h.node, { exact: true })).toBeVisible();
      await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
      await page.notebook.setCell(
        0,
        'code',
        'import os, socket; print(socket.gethostname(), os.environ["SLURM_JOB_ID"])'
      );
      await page.notebook.runCell(0);
      await expect
        .poll(async () => (await page.notebook.getCellTextOutput(0))?.join(''), {
          timeout: 90_000
        })
        .toContain(`${h.node} ${jobId}`);
      await page.screenshot({ path: artifactPath('session-slurm-running-light.png') });
    });

    await test.step('Stop cancels the job', async () => {
      const card = sessionCard(page);
      await card.getByRole('button', { name: `Stop session ${PROFILE}` }).click();
      await page.locator('.jp-Dialog').getByRole('button', { name: `Stop kernel ${PROFILE}` }).click();
      await expect(card.getByText('Stopped', { exact: true })).toBeVisible({ timeout: 90_000 });
      await expect.poll(() => jobsOf(h), { timeout: 60_000 }).toEqual([]);
      // the test's notebook leaves /tmp of the login node as it found it
      await page.notebook.close(true);
      const remote = notebook.slice(SERVER.length + 1);
      expect((await request.delete(`/remote/servers/${SERVER}/files/${remote}`)).status()).toBe(204);
    });
  });
});
