/** Stop the sshd test host started by global-setup.js. */
const fs = require('fs');

module.exports = async function globalTeardown() {
  const pid = Number(process.env.JR_UI_TESTHOST_PID || 0);
  if (!pid) {
    return;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const deadline = Date.now() + 20 * 1000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
  fs.rmSync(process.env.JR_UI_TESTHOST_JSON || '', { force: true });
};
