/**
 * Start the sshd test host (python -m tests.harness.ui_host, from the repository
 * root) before the tests and wait until it wrote its details; global-teardown.js
 * stops it.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');
const HOST_JSON = path.join(HERE, '.testhost', 'host.json');

function python() {
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return process.env.PYTHON || (fs.existsSync(venv) ? venv : 'python3');
}

module.exports = async function globalSetup() {
  fs.rmSync(HOST_JSON, { force: true });
  const log = fs.openSync(path.join(HERE, '.testhost.log'), 'w');
  const child = spawn(python(), ['-m', 'tests.harness.ui_host', '--json', HOST_JSON], {
    cwd: ROOT,
    stdio: ['ignore', log, log]
  });
  let exited = null;
  child.on('exit', code => {
    exited = code;
  });
  process.env.JR_UI_TESTHOST_PID = String(child.pid);
  process.env.JR_UI_TESTHOST_JSON = HOST_JSON;
  // The first run on a machine builds the remote Python env (~30 s).
  const deadline = Date.now() + 180 * 1000;
  while (!fs.existsSync(HOST_JSON)) {
    if (exited !== null) {
      throw new Error(
        `tests.harness.ui_host exited (${exited}); see ${path.join(HERE, '.testhost.log')}`
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error('tests.harness.ui_host did not write its details in 180 s');
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
};
