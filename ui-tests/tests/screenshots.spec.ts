/**
 * Screenshots of the Remote sidebar and the connect wizard, in the light and
 * dark themes, from canned REST answers and events (page.route and
 * page.routeWebSocket), so every state shows: servers with profiles, each
 * wizard step (unknown key, connected, changed key, environments with pip
 * output, review, saved), session cards running / connecting / reconnecting /
 * disconnected / stopped (and a start that failed, with why and Retry), the
 * Security drawer, the GPU summary of a server and the wizard's GPU picker, a
 * new environment created from a system Python, and a profile being edited.
 *
 * Also a UI check with deterministic data. Writes into test-results/screenshots,
 * or into docs/screenshots with SCREENSHOTS=1 (`jlpm screenshots`).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator, Route } from '@playwright/test';

import { screenshotPath } from './testhost';

const NOW = Date.now() / 1000;

const SERVERS = [
  {
    name: 'gpu-box',
    host: 'gpu-box.lab.example.org',
    port: null,
    user: 'ada',
    identity: '/home/ada/.ssh/id_ed25519',
    auth: 'key',
    jump: null,
    readonly: false,
    has_secret: false
  },
  {
    name: 'cluster',
    host: 'login.cluster.example.org',
    port: 2222,
    user: 'ada',
    identity: null,
    auth: 'agent',
    jump: 'ada@bastion.example.org',
    readonly: true,
    has_secret: false
  }
];

const PROFILES = [
  {
    name: 'torch',
    server: 'gpu-box',
    python: '/home/ada/miniconda3/envs/torch/bin/python',
    kernelspec: null,
    cwd: '/data/ada',
    env: { CUDA_VISIBLE_DEVICES: '0' },
    idle_timeout: 3600,
    display_name: 'Python 3.11 · torch — gpu-box (torch, /data/ada)',
    custom_display_name: null,
    readonly: false,
    kernel_name: 'remote-torch'
  },
  {
    name: 'cluster-py',
    server: 'cluster',
    python: '/usr/bin/python3',
    kernelspec: null,
    cwd: null,
    env: {},
    idle_timeout: 0,
    display_name: 'Python 3.10 — cluster (cluster-py)',
    custom_display_name: null,
    readonly: true,
    kernel_name: 'remote-cluster-py'
  }
];

const KEYS = [
  {
    host_id: 'gpu-box.lab.example.org',
    key_type: 'ssh-ed25519',
    fingerprint: 'SHA256:3n1Vq8a0uWJm0J2x8cQbq0m0fC7yY4X7V2c5H3Jf0aQ',
    added: '2026-11-02T09:14:00+00:00',
    source: 'jupyter-remote'
  },
  {
    host_id: '[login.cluster.example.org]:2222',
    key_type: 'ecdsa-sha2-nistp256',
    fingerprint: 'SHA256:Qw0pVx2bq1o6S1oTqk4n0w9d3y8Lr7cX5m2Jb4Ue9Hs',
    source: 'known_hosts'
  }
];

function session(id: string, state: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    kind: 'kernel',
    kernel_id: id,
    server: 'gpu-box',
    profile: 'torch',
    python: '/home/ada/miniconda3/envs/torch/bin/python',
    state,
    reason: '',
    started: NOW - 5405,
    reconnects: 0,
    local_ports: [],
    ...extra
  };
}

const SESSIONS = [
  session('4f1c2a9e-running', 'running'),
  session('8b2d7c11-reconnecting', 'reconnecting', {
    profile: 'cluster-py',
    server: 'cluster',
    python: '/usr/bin/python3',
    started: NOW - 1260,
    reconnects: 1,
    reason: 'the SSH connection was lost; the kernel keeps running remotely'
  }),
  session('c93e0f5a-disconnected', 'disconnected', {
    started: NOW - 86400 - 7200,
    reconnects: 3,
    reason: 'gave up after 3600 s; use Retry'
  })
];

const TEST_RESULT = {
  server: 'gpu-box',
  endpoint: 'ada@gpu-box.lab.example.org:22',
  reachable: true,
  auth: 'ok',
  auth_method: 'key',
  host_key: {
    host_id: 'gpu-box.lab.example.org',
    type: 'ssh-ed25519',
    fingerprint: KEYS[0].fingerprint,
    status: 'trusted',
    source: 'jupyter-remote'
  },
  connect_ms: 182.4,
  rtt_ms: 23.9,
  os: 'Ubuntu 22.04.4 LTS (Linux 5.15.0-105-generic x86_64)',
  python: { path: '/usr/bin/python3', version: '3.10.12' },
  gpus: {
    devices: [
      {
        index: 0,
        uuid: 'GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01',
        name: 'NVIDIA A100-SXM4-80GB',
        memory_used_mib: 10541,
        memory_total_mib: 81920,
        utilization_percent: 87,
        processes: 2
      },
      {
        index: 1,
        uuid: 'GPU-0b9d42f1-77aa-4c1e-9e55-3c2d1e0f4a92',
        name: 'NVIDIA A100-SXM4-80GB',
        memory_used_mib: 4,
        memory_total_mib: 81920,
        utilization_percent: 0,
        processes: 0
      }
    ],
    error: null
  }
};

const CREATE_LINES = [
  '$ /usr/bin/python3 -m venv /home/ada/.virtualenvs/jupyter-3.10',
  '$ /home/ada/.virtualenvs/jupyter-3.10/bin/python -m pip install --disable-pip-version-check ipykernel',
  'Collecting ipykernel',
  'Installing collected packages: traitlets, tornado, pyzmq, comm, jupyter-client, ipykernel',
  'Successfully installed comm-0.2.2 debugpy-1.8.5 ipykernel-6.29.5 jupyter-client-8.6.2',
  '$ /home/ada/.virtualenvs/jupyter-3.10/bin/python -c import ipykernel'
];

const CREATED = {
  python: '/home/ada/.virtualenvs/jupyter-3.10/bin/python',
  kind: 'venv',
  name: 'jupyter-3.10',
  version: '3.10.12',
  ipykernel: true,
  path: '/home/ada/.virtualenvs/jupyter-3.10'
};

const UNKNOWN = {
  message: `The host key of gpu-box.lab.example.org is not trusted yet: ssh-ed25519 ${KEYS[0].fingerprint}`,
  reason: 'hostkey_unknown',
  hint: 'Compare the fingerprint with the one your administrator gives you.',
  host_id: 'gpu-box.lab.example.org',
  key_type: 'ssh-ed25519',
  fingerprint: KEYS[0].fingerprint
};

const CHANGED = {
  message: 'WARNING: the host key of gpu-box.lab.example.org has CHANGED.',
  reason: 'hostkey_changed',
  hint: 'Do not connect until you have confirmed the new key.',
  host_id: 'gpu-box.lab.example.org',
  key_type: 'ssh-ed25519',
  fingerprint: 'SHA256:Zr8mK2pX9vQ4c7Lw1sT6uY3nB5hG0dF8eJ2aR4oP7kM',
  known_fingerprints: [KEYS[0].fingerprint]
};

const ENVIRONMENTS = [
  {
    python: '/home/ada/miniconda3/envs/torch/bin/python',
    kind: 'conda',
    name: 'torch',
    version: '3.11.9',
    ipykernel: true,
    path: '/home/ada/miniconda3/envs/torch'
  },
  {
    python: '/home/ada/miniconda3/bin/python',
    kind: 'conda',
    name: 'base',
    version: '3.12.4',
    ipykernel: false,
    path: '/home/ada/miniconda3'
  },
  {
    python: '/home/ada/projects/survey/.venv/bin/python',
    kind: 'venv',
    name: '.venv',
    version: '3.10.12',
    ipykernel: true,
    path: '/home/ada/projects/survey/.venv'
  },
  {
    python: '/usr/bin/python3',
    kind: 'system',
    name: 'system',
    version: '3.10.12',
    ipykernel: false,
    path: '/usr'
  },
  {
    python: '/usr/lib/R/bin/R',
    kind: 'kernelspec',
    name: 'ir',
    version: '',
    ipykernel: false,
    path: '/usr/local/share/jupyter/kernels/ir',
    display_name: 'R 4.3',
    language: 'R'
  }
];

const PIP_LINES = [
  'Collecting ipykernel',
  '  Downloading ipykernel-6.29.5-py3-none-any.whl (117 kB)',
  'Collecting comm>=0.1.1 (from ipykernel)',
  'Collecting debugpy>=1.6.5 (from ipykernel)',
  'Collecting jupyter-client>=6.1.12 (from ipykernel)',
  'Installing collected packages: traitlets, tornado, pyzmq, comm, jupyter-client, ipykernel',
  'Successfully installed comm-0.2.2 debugpy-1.8.5 ipykernel-6.29.5 jupyter-client-8.6.2'
];

interface IMockState {
  test: 'unknown' | 'ok' | 'changed';
  environments: typeof ENVIRONMENTS;
}

async function mockBackend(page: IJupyterLabPageFixture, state: IMockState): Promise<void> {
  const json = (route: Route, body: unknown, status = 200) =>
    route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
  await page.route(
    url => url.pathname.startsWith('/remote/'),
    async route => {
      const request = route.request();
      const path = new URL(request.url()).pathname.replace(/^\/remote\//, '');
      const method = request.method();
      if (path === 'servers' && method === 'GET') {
        return json(route, SERVERS);
      }
      if (path === 'servers/gpu-box/gpus') {
        return json(route, { server: 'gpu-box', gpus: TEST_RESULT.gpus, probed_at: NOW - 240 });
      }
      if (path === 'servers/cluster/gpus') {
        return json(route, { server: 'cluster', gpus: null, probed_at: null });
      }
      if (path === 'profiles/torch' && method === 'PATCH') {
        const body = JSON.parse(request.postData() ?? '{}');
        const display = body.display_name || PROFILES[0].display_name;
        return json(route, { ...PROFILES[0], ...body, display_name: display, custom_display_name: body.display_name || null });
      }
      if (path === 'servers/gpu-box/environments' && method === 'POST') {
        const lines = CREATE_LINES.map(line => JSON.stringify({ type: 'output', line }));
        lines.push(JSON.stringify({ type: 'done', ok: true, environment: { ...CREATED, tool: 'venv' } }));
        state.environments = [...state.environments, CREATED];
        return route.fulfill({
          status: 200,
          contentType: 'application/x-ndjson',
          body: lines.join('\n') + '\n'
        });
      }
      if (path === 'profiles' && method === 'GET') {
        return json(route, PROFILES);
      }
      if (path === 'profiles' && method === 'POST') {
        const body = JSON.parse(request.postData() ?? '{}');
        return json(
          route,
          {
            ...body,
            kernelspec: null,
            display_name: 'Python 3.11 · torch — gpu-box',
            readonly: false,
            kernel_name: `remote-${body.name}`
          },
          201
        );
      }
      if (path === 'hostkeys' && method === 'GET') {
        return json(route, KEYS);
      }
      if (path === 'hostkeys' && method === 'POST') {
        state.test = 'ok';
        return json(route, KEYS[0], 201);
      }
      if (path === 'sessions') {
        return json(route, SESSIONS);
      }
      if (path === 'servers/gpu-box/test') {
        if (state.test === 'unknown') {
          return json(route, UNKNOWN, 409);
        }
        if (state.test === 'changed') {
          return json(route, CHANGED, 409);
        }
        return json(route, TEST_RESULT);
      }
      if (path === 'servers/gpu-box/environments') {
        return json(route, state.environments);
      }
      if (path === 'servers/gpu-box/install-ipykernel') {
        const lines = PIP_LINES.map(line => JSON.stringify({ type: 'output', line }));
        lines.push(JSON.stringify({ type: 'done', ok: true }));
        state.environments = state.environments.map(e =>
          e.python === '/home/ada/miniconda3/bin/python' ? { ...e, ipykernel: true } : e
        );
        return route.fulfill({
          status: 200,
          contentType: 'application/x-ndjson',
          body: lines.join('\n') + '\n'
        });
      }
      return json(route, { message: `not mocked: ${method} ${path}`, reason: 'not_found', hint: '' }, 404);
    }
  );
  await page.routeWebSocket(/\/remote\/events/, ws => {
    ws.send(
      JSON.stringify({
        type: 'hello',
        sessions: [
          ...SESSIONS,
          session('e7a41b20-stopped', 'stopped', { profile: 'torch', started: NOW - 600 }),
          session('5a0c3e77-failed', 'stopped', {
            profile: 'torch',
            started: NOW - 60,
            reason: 'the kernel did not start: working directory /data/ada does not exist on the remote',
            hint: "Create it, or change the profile's working directory.",
            start_failed: true
          })
        ]
      })
    );
    ws.send(
      JSON.stringify({
        type: 'progress',
        kernel_id: '1d5f9b37-connecting',
        server: 'gpu-box',
        stage: 'starting kernel',
        message: '/home/ada/miniconda3/envs/torch/bin/python'
      })
    );
  });
}

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('region', { name: 'Remote', exact: true });
}

function wizard(page: IJupyterLabPageFixture): Locator {
  return page.getByRole('tabpanel', { name: 'Connect: gpu-box' });
}

for (const theme of ['light', 'dark'] as const) {
  test.describe(`screenshots (${theme})`, () => {
    // tall enough for every card without scrolling
    test.use({ autoGoto: false, viewport: { width: 1280, height: 1100 } });

    test(`sidebar, wizard steps and session states, ${theme} theme`, async ({ page }) => {
      const state: IMockState = { test: 'unknown', environments: ENVIRONMENTS };
      await mockBackend(page, state);
      await page.goto();
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await page.sidebar.openTab('jp-remote-sidebar');
      await page.sidebar.setWidth(380);
      const panel = sidebar(page);

      // servers with profiles, session cards in every state
      const cards = panel.getByRole('list', { name: 'Remote sessions' });
      await expect(cards.getByText('Running', { exact: true })).toBeVisible();
      await expect(cards.getByText('Connecting', { exact: true })).toBeVisible();
      await expect(cards.getByText('Reconnecting', { exact: true })).toBeVisible();
      await expect(cards.getByText('Disconnected', { exact: true })).toBeVisible();
      // two stopped cards: one stopped by hand, one whose start failed (with Retry)
      await expect(cards.getByText('Stopped', { exact: true })).toHaveCount(2);
      await expect(cards.getByText('starting kernel: /home/ada/miniconda3/envs/torch/bin/python')).toBeVisible();
      await expect(panel.getByRole('button', { name: /^Retry session/ })).toHaveCount(1);
      await expect(panel.getByRole('button', { name: /^Retry starting the kernel/ })).toHaveCount(1);
      await expect(panel.getByRole('group', { name: 'GPUs of gpu-box' })).toContainText('87% busy');
      await panel.getByRole('region', { name: 'Servers' }).screenshot({
        path: screenshotPath(`sidebar-servers-${theme}.png`)
      });
      await panel.getByRole('region', { name: 'Sessions' }).screenshot({
        path: screenshotPath(`sidebar-sessions-${theme}.png`)
      });

      // Security drawer
      await panel.getByRole('button', { name: /Security: trusted host keys/ }).click();
      const table = panel.getByRole('table', { name: 'Trusted host keys' });
      await expect(table.locator(`[title="${KEYS[0].fingerprint}"]`)).toBeVisible();
      await expect(table.getByRole('button', { name: /^Copy fingerprint of/ }).first()).toBeVisible();
      await expect(table.getByText(/from ~\/.ssh\/known_hosts/)).toBeVisible();
      await panel.getByRole('region', { name: /Security/ }).screenshot({
        path: screenshotPath(`sidebar-security-${theme}.png`)
      });
      await panel.getByRole('button', { name: /Security: trusted host keys/ }).click();

      // the form, with a local validation message
      await panel.getByRole('button', { name: 'Add server', exact: true }).click();
      const form = panel.getByRole('form', { name: 'Add a server' });
      await form.getByLabel('Name', { exact: true }).fill('new box');
      await form.getByLabel('Host', { exact: true }).fill('new-box.example.org');
      await form.getByLabel('Port', { exact: true }).fill('22');
      await form.getByLabel('User', { exact: true }).fill('ada');
      await form.getByLabel('Key file', { exact: true }).fill('~/.ssh/id_ed25519');
      await form.getByRole('button', { name: 'Save and connect' }).click();
      await expect(form.getByText('Use 1 to 64 letters')).toBeVisible();
      await form.screenshot({ path: screenshotPath(`server-form-${theme}.png`) });
      await form.getByRole('button', { name: 'Cancel' }).click();

      // wizard 1: unknown key, then connected
      await panel.getByRole('button', { name: 'Connect to gpu-box and add a profile' }).click();
      const w = wizard(page);
      const prompt = w.getByRole('group', { name: 'Unknown host key' });
      await expect(prompt.getByLabel('SHA256 fingerprint')).toHaveText(KEYS[0].fingerprint);
      await page.screenshot({ path: screenshotPath(`wizard-1-hostkey-unknown-${theme}.png`) });
      await prompt.getByRole('button', { name: 'Trust' }).click();
      await expect(w.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
      await page.screenshot({ path: screenshotPath(`wizard-1-connected-${theme}.png`) });

      // wizard 2: environments grouped by kind; install ipykernel with pip's output
      await w.getByRole('button', { name: 'Next' }).click();
      await expect(w.getByRole('group', { name: 'Conda environments' })).toBeVisible();
      await w
        .getByRole('button', { name: 'Install ipykernel into /home/ada/miniconda3/bin/python' })
        .click();
      await expect(w.getByRole('log', { name: 'pip output' })).toContainText('Successfully installed');
      await w.getByRole('radio', { name: /torch/ }).check();
      await page.screenshot({ path: screenshotPath(`wizard-2-environment-${theme}.png`) });

      // wizard 2: a new environment from the system Python (PEP 668), output streamed
      await w.getByRole('button', { name: 'Create a new environment from /usr/bin/python3' }).click();
      const create = w.getByRole('form', { name: 'New environment' });
      await expect(create.getByLabel('Base Python')).toHaveValue('/usr/bin/python3');
      await create.getByRole('button', { name: 'Create environment' }).click();
      await expect(w.getByText('Environment created and chosen.')).toBeVisible();
      await expect(w.getByRole('radio', { name: /jupyter-3\.10/ })).toBeChecked();
      await create.scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath(`wizard-2-create-environment-${theme}.png`) });
      await w.getByRole('radio', { name: /torch/ }).check();

      // wizard 3: review, then saved
      await w.getByRole('button', { name: 'Next' }).click();
      await w.getByLabel('Profile name').fill('torch-gpu');
      await w.getByLabel('Working directory on the server').fill('/data/ada');
      await w.getByRole('button', { name: 'Add variable' }).click();
      await w.getByLabel('Name of variable 1').fill('CUDA_VISIBLE_DEVICES');
      await w.getByLabel('Value of variable 1').fill('0');
      await w.getByLabel('Stop the kernel when idle for').selectOption({ label: '4h' });
      await w.getByRole('checkbox', { name: /GPU 1/ }).check();
      await page.screenshot({ path: screenshotPath(`wizard-3-review-${theme}.png`) });
      await w.getByRole('button', { name: 'Start' }).click();
      await expect(w.getByText('Profile torch-gpu saved.')).toBeVisible();
      await page.screenshot({ path: screenshotPath(`wizard-3-saved-${theme}.png`) });

      // edit a profile from the sidebar: the wizard opens on Review, prefilled
      await panel.getByRole('button', { name: 'Edit profile torch' }).click();
      const edit = page.getByRole('tabpanel', { name: 'Edit: torch' });
      await expect(edit.getByRole('heading', { name: 'Edit profile torch on gpu-box' })).toBeVisible();
      await edit.getByLabel('Name in the launcher (optional)').fill('Torch on the A100s');
      await page.screenshot({ path: screenshotPath(`wizard-edit-profile-${theme}.png`) });
      await edit.getByRole('button', { name: 'Save', exact: true }).click();
      await expect(edit.getByText('Profile torch saved.')).toBeVisible();
      await edit.getByRole('button', { name: 'Close' }).click();

      // a changed key: the red warning, nothing to accept
      state.test = 'changed';
      await panel.getByRole('button', { name: 'Connect to gpu-box and add a profile' }).click();
      const warning = w.getByRole('alert').filter({ hasText: 'WARNING: the host key has CHANGED' });
      await expect(warning).toBeVisible();
      await expect(w.getByRole('button', { name: /trust|accept/i })).toHaveCount(0);
      await page.screenshot({ path: screenshotPath(`wizard-1-hostkey-changed-${theme}.png`) });
    });
  });
}
