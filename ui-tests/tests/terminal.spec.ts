/**
 * A terminal on the remote, end to end in chromium against the real sshd test host:
 *
 *   the launcher shows "Terminal — ui-term" for the saved server -> it opens
 *   JupyterLab's own terminal widget -> `whoami` prints the remote user -> an
 *   sshd outage: the terminal says the link is lost, then reattaches by itself
 *   with a new shell -> typing works again -> closing the tab closes the
 *   terminal on the server.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { artifactPath, readHost, toggleOutage } from './testhost';

const SERVER = 'ui-term';
const LABEL = `Terminal — ${SERVER}`;

test.use({ autoGoto: true });

/** The text of the remote terminal's xterm buffer (every line, scrollback included). */
async function terminalText(page: IJupyterLabPageFixture): Promise<string> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    for (const widget of app.shell.widgets('main')) {
      if (String(widget.id).startsWith('jp-remote-terminal-')) {
        const buffer = widget.content._term?.buffer?.active;
        if (!buffer) {
          return '';
        }
        const lines: string[] = [];
        for (let i = 0; i < buffer.length; i++) {
          lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
        }
        return lines.join('\n');
      }
    }
    return '';
  });
}

async function waitForText(page: IJupyterLabPageFixture, pattern: RegExp, timeout = 30_000): Promise<void> {
  await expect.poll(() => terminalText(page), { timeout, intervals: [100, 250, 500] }).toMatch(pattern);
}

test.describe.serial('A terminal on the remote', () => {
  // Whatever happened, nothing is left for the next spec: the terminals and the server.
  test.afterEach(async ({ request }) => {
    if (!readHost().running) {
      await toggleOutage(); // a failure during the outage: sshd back for the next spec
    }
    const listed = await request.get(`/remote/servers/${SERVER}/terminals`);
    if (listed.ok()) {
      for (const terminal of await listed.json()) {
        await request.delete(`/remote/servers/${SERVER}/terminals/${terminal.id}`);
      }
    }
    await request.delete(`/remote/servers/${SERVER}`);
    // the key stays trusted after its server goes: the next spec meets it unknown
    await request.delete(`/remote/hostkeys/${encodeURIComponent(readHost().host_id)}`);
  });

  test('launcher -> whoami -> link cut -> reattached -> close', async ({ page, request }) => {
    const host = readHost();

    await test.step('save the test host as a server (REST), trust its key', async () => {
      const saved = await request.post('/remote/servers', {
        data: {
          name: SERVER,
          host: host.host,
          port: host.port,
          user: host.user,
          identity: host.identity,
          auth: 'key'
        }
      });
      expect(saved.status()).toBe(201);
      const trusted = await request.post('/remote/hostkeys', {
        data: { server: SERVER, fingerprint: host.fingerprint }
      });
      expect(trusted.status()).toBe(201);
      await page.reload();
      await page.waitForSelector('.jp-Launcher');
    });

    await test.step('the launcher offers the server\'s terminal; it opens a terminal tab', async () => {
      const card = page.locator('.jp-LauncherCard').filter({ hasText: LABEL }).first();
      await expect(card).toBeVisible({ timeout: 30_000 });
      await expect(
        page.locator('.jp-LauncherCard').filter({ hasText: `Persistent terminal — ${SERVER}` })
      ).toBeVisible();
      await card.click();
      await expect(page.getByRole('tab', { name: LABEL })).toBeVisible();
      await expect(page.locator('.jp-Terminal')).toBeVisible();
      await waitForText(page, /\$ ?$/m); // the remote shell's prompt
    });

    await test.step('type whoami: the remote user answers', async () => {
      await page.locator('.jp-Terminal').click();
      await page.keyboard.type('whoami\n');
      await waitForText(page, new RegExp(`^${host.user}$`, 'm'));
      await page.screenshot({ path: artifactPath('terminal-whoami-light.png') });
    });

    await test.step('an sshd outage: the terminal says so, then reattaches by itself', async () => {
      await toggleOutage();
      await waitForText(page, /The link to ui-term was lost; reconnecting/);
      await page.screenshot({ path: artifactPath('terminal-link-lost-light.png') });
      await toggleOutage();
      await waitForText(page, /Reconnected\. This is a new shell/, 60_000);
      await page.locator('.jp-Terminal').click();
      await page.keyboard.type('echo back-$((1+2))\n');
      await waitForText(page, /^back-3$/m);
      await page.screenshot({ path: artifactPath('terminal-reattached-light.png') });
    });

    await test.step('closing the tab closes the terminal on the server', async () => {
      const listed = await request.get(`/remote/servers/${SERVER}/terminals`);
      expect((await listed.json()).length).toBe(1);
      await page.locator('.lm-TabBar-tab', { hasText: LABEL }).locator('.lm-TabBar-tabCloseIcon').click();
      await expect
        .poll(async () => (await (await request.get(`/remote/servers/${SERVER}/terminals`)).json()).length, {
          timeout: 15_000
        })
        .toBe(0);
      expect((await request.delete(`/remote/servers/${SERVER}`)).status()).toBeLessThan(300);
    });
  });
});
