/**
 * Playwright configuration of the jupyterlab-remote UI tests (Galata), run in
 * Debian's chromium against a real OpenSSH sshd test host.
 *
 *   globalSetup   starts python -m tests.harness.ui_host (the harness's
 *                 SSHTestHost) and waits for its details in .testhost/host.json
 *   webServer     jupyter lab --config jupyter_server_test_config.py, with its
 *                 own emptied JUPYTER_DATA_DIR (.jupyter-data)
 */
const fs = require('fs');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');
const VENV_BIN = path.join(ROOT, '.venv', 'bin');
const PORT = Number(process.env.UI_TESTS_PORT || 18888);
const JUPYTER = fs.existsSync(path.join(VENV_BIN, 'jupyter'))
  ? path.join(VENV_BIN, 'jupyter')
  : 'jupyter';

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  // one server, one sshd, state carried from step to step: run serially
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 420 * 1000,
  expect: { timeout: 30 * 1000 },
  reporter: [[process.env.CI ? 'github' : 'list'], ['html', { open: 'never' }]],
  globalSetup: require.resolve('./global-setup.js'),
  globalTeardown: require.resolve('./global-teardown.js'),
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${PORT}`,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    actionTimeout: 30 * 1000,
    video: 'off',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: `${JUPYTER} lab --config jupyter_server_test_config.py`,
    cwd: HERE,
    url: `http://127.0.0.1:${PORT}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      ...process.env,
      UI_TESTS_PORT: String(PORT),
      JUPYTER_DATA_DIR: path.join(HERE, '.jupyter-data'),
      PATH: fs.existsSync(VENV_BIN) ? `${VENV_BIN}:${process.env.PATH}` : process.env.PATH
    }
  }
};
