/**
 * Invariant 11, in Debian's chromium: a page served from a forwarded remote port
 * is never same-origin with Jupyter; it cannot read Jupyter's cookies nor call its
 * API, and a benign forwarded app still works.
 *
 * A Jupyter server of its own, with Jupyter's protections ON (token, login
 * cookie, XSRF: jupyter_server_isolation_config.py), unlike the Galata server of
 * the other specs. On the sshd test host, as the remote user, forward_app.py
 * serves a HOSTILE page (forward-pages/hostile.html + attack.js) and a BENIGN app
 * (forward-pages/benign*). The user logs in with the token (at 127.0.0.1: the
 * browser runs on the Jupyter server's machine), the forward is opened and the
 * user clicks Open on its card in the Remote sidebar, which lands on the forward's
 * OWN origin http://jr-<secret>.localhost:<port>/:
 *
 *   - control: attack.js run in JupyterLab's own page (same origin) does read the
 *     cookie, write a file, start a kernel, open both websockets: the attacks are
 *     real, only the separate origin stops them;
 *   - the hostile page (on jr-<secret>.localhost, another site) sees no cookie of
 *     Jupyter's and no success, and cannot toss a cookie onto Jupyter's host; no
 *     file was written and no kernel started (the server's own API, with the test's
 *     token); none of its requests to Jupyter's API carried Jupyter's login cookie
 *     and every one was refused; Jupyter's cookies and JupyterLab's storage survive;
 *     it has no window.opener;
 *   - the benign app: scripts, fetch/XHR, a JSON POST, a websocket echo, its own
 *     frame and popup, and (a real origin) localStorage, its cookies, a dedicated
 *     worker and a service worker all work;
 *   - a browser that is not on this machine (the test asks the entry route with the
 *     Host "jupyter.test") gets the sandbox route instead: the hostile page there has
 *     an opaque origin and achieves nothing either.
 */
import { expect, Page, Request, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { randomBytes } from 'crypto';

import { artifactPath, readHost } from './testhost';

const UI_TESTS = path.resolve(__dirname, '..');
const VENV_BIN = path.resolve(UI_TESTS, '..', '.venv', 'bin');
const PORT = Number(process.env.UI_TESTS_ISOLATION_PORT || 18890);
const BASE = `http://127.0.0.1:${PORT}`;
const TOKEN = randomBytes(24).toString('hex');
const AUTH = { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json' };
const SERVER = 'iso-box';
const SANDBOX_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';
const LOGIN_COOKIE = `username-127-0-0-1-${PORT}`;
/** A forward's own origin: scheme, host (its capability) and the origin listener's port. */
const OWN_ORIGIN = /^http:\/\/jr-[0-9a-f]{32}\.localhost:\d+$/;
/** A host name Jupyter accepts (local_hostnames) that is no loopback name. */
const REMOTE_NAME = `jupyter.test:${PORT}`;
const PAGES = [
  'hostile.html',
  'attack.js',
  'benign.html',
  'benign-app.js',
  'benign-mod.js',
  'benign-frame.html',
  'benign-worker.js',
  'benign-sw.js'
];

interface IAttack {
  ok: boolean | null;
  detail: string;
}
type Attacks = Record<string, IAttack>;

interface ISeen {
  url: string;
  method: string;
  navigation: boolean;
  loginCookie: boolean;
  status: number;
}

test.describe.configure({ mode: 'serial' });

let jupyter: ChildProcess | null = null;
let app: ChildProcess | null = null;
let appPort = 0;
let kernelId = '';
let forwardId = '';
let ownOrigin = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function api(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(`${BASE}${url}`, {
    method,
    headers: AUTH,
    body: body === undefined ? undefined : JSON.stringify(body)
  });
}

async function json<T>(method: string, url: string, body?: unknown, status = 200): Promise<T> {
  const response = await api(method, url, body);
  const text = await response.text();
  expect(response.status, `${method} ${url}: ${text}`).toBe(status);
  return (text ? JSON.parse(text) : null) as T;
}

async function fileNames(): Promise<string[]> {
  const root = await json<{ content: Array<{ name: string }> }>('GET', '/api/contents');
  return root.content.map(f => f.name).sort();
}

async function kernelIds(): Promise<string[]> {
  return (await json<Array<{ id: string }>>('GET', '/api/kernels')).map(k => k.id).sort();
}

/** The entry route asked as a browser that named Jupyter `host` would: its redirect. */
function entryAs(host: string, pathName: string): Promise<{ status: number; location: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: PORT, path: pathName, headers: { Host: host, ...AUTH } },
      response => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, location: String(response.headers.location ?? '') });
      }
    );
    request.on('error', reject);
    request.end();
  });
}

/** The capabilities out of a text: origin labels and sandbox secrets. */
function scrub(text: string): string {
  return text.replace(/jr-[0-9a-f]{32}/g, 'jr-***').replace(/(\/remote\/sandbox\/[^/]+\/)[^/"]+/g, '$1***');
}

function stop(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.pid === undefined) {
    return Promise.resolve();
  }
  return new Promise(resolve => {
    child.once('exit', () => resolve());
    try {
      process.kill(-child.pid!, 'SIGTERM'); // its process group: runuser and python
    } catch {
      child.kill('SIGTERM');
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 10_000).unref();
  });
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  const host = readHost();
  const root = fs.mkdtempSync(path.join(UI_TESTS, 'test-results', 'isolation-root-'));
  const dataDir = path.join(UI_TESTS, '.jupyter-data-isolation');
  const log = fs.openSync(path.join(UI_TESTS, 'test-results', 'isolation-server.log'), 'w');
  const jupyterBin = fs.existsSync(path.join(VENV_BIN, 'jupyter'))
    ? path.join(VENV_BIN, 'jupyter')
    : 'jupyter';
  jupyter = spawn(jupyterBin, ['lab', '--config', 'jupyter_server_isolation_config.py'], {
    cwd: UI_TESTS,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      JUPYTER_DATA_DIR: dataDir,
      UI_TESTS_ISOLATION_PORT: String(PORT),
      JR_UI_TOKEN: TOKEN,
      JR_UI_ROOT_DIR: root
    }
  });
  await expect
    .poll(
      async () => {
        try {
          return (await api('GET', '/api/status')).status;
        } catch {
          return 0;
        }
      },
      { timeout: 120_000, intervals: [250, 500, 1000] }
    )
    .toBe(200);
  expect((await fetch(`${BASE}/api/status`)).status).toBe(403); // the token is required

  const server = { name: SERVER, host: host.host, port: host.port, user: host.user };
  await json('POST', '/remote/servers', { ...server, identity: host.identity }, 201);
  await json('POST', '/remote/hostkeys', { server: SERVER, fingerprint: host.fingerprint }, 201);
  kernelId = (await json<{ id: string }>('POST', '/api/kernels', { name: 'python3' }, 201)).id;

  // the app, on the test host as the remote user, on its 127.0.0.1 only
  appPort = await freePort();
  const files: Record<string, string> = {};
  for (const name of PAGES) {
    files[name] = fs.readFileSync(path.join(UI_TESTS, 'forward-pages', name), 'utf-8');
  }
  const source = fs.readFileSync(path.join(UI_TESTS, 'forward_app.py'), 'utf-8');
  const argv = [host.remote_python, '-c', source];
  const asUser = process.getuid?.() === 0 && host.user !== 'root';
  app = spawn(asUser ? 'runuser' : argv[0], asUser ? ['-u', host.user, '--', ...argv] : argv.slice(1), {
    cwd: '/',
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit']
  });
  app.stdin!.end(
    JSON.stringify({
      port: appPort,
      kernel_id: kernelId,
      jupyter: BASE,
      login_cookie: LOGIN_COOKIE,
      files
    })
  );
  await new Promise<void>((resolve, reject) => {
    app!.stdout!.once('data', () => resolve());
    app!.once('exit', code => reject(new Error(`forward_app.py exited ${code}`)));
  });

  const forward = await json<{ id: string; url: string }>(
    'POST',
    '/remote/forwards',
    { server: SERVER, remote_port: appPort },
    201
  );
  forwardId = forward.id;
  expect(forward.url).toBe(`/remote/forward/${forwardId}/`);
});

test.afterAll(async () => {
  if (jupyter && forwardId) {
    await api('DELETE', `/remote/forwards/${forwardId}`).catch(() => undefined);
  }
  await stop(app);
  await stop(jupyter);
});

/** JupyterLab in a fresh browser, logged in with the token as a user is (cookie). */
async function logIn(page: Page): Promise<void> {
  await page.goto(`${BASE}/lab?token=${TOKEN}`);
  await expect(page.locator('#jp-main-dock-panel')).toBeVisible({ timeout: 60_000 });
  const names = (await page.context().cookies(BASE)).map(c => c.name);
  expect(names).toContain(LOGIN_COOKIE);
  expect(names).toContain('_xsrf');
}

/** Click Open on the forward's card in the Remote sidebar: the new tab. */
async function openForwardPage(page: Page): Promise<Page> {
  const panel = page.getByRole('region', { name: 'Remote', exact: true });
  // a restored workspace may have the sidebar open already: a click would close it
  await expect(async () => {
    if (!(await panel.isVisible())) {
      await page.locator('.lm-TabBar-tab[data-id="jp-remote-sidebar"]').click();
    }
    await expect(panel).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30_000 });
  const open = panel.getByRole('button', {
    name: `Open Port ${appPort} on ${SERVER} in a new tab`
  });
  const [tab] = await Promise.all([page.context().waitForEvent('page'), open.click()]);
  await tab.waitForLoadState('domcontentloaded');
  return tab;
}

/** Jupyter's cookies in the browser: the login cookie is there, no value of the page's. */
async function expectJupyterCookiesIntact(page: Page): Promise<void> {
  const context = page.context();
  const names = (await context.cookies(BASE)).map(c => `${c.name} ${c.path}`);
  expect(names).toContain(`${LOGIN_COOKIE} /`);
  for (const c of await context.cookies()) {
    // nothing the page set landed on Jupyter's host (127.0.0.1) or on localhost, but
    // for the sandbox route's app cookies, scoped under its path
    if (['127.0.0.1', 'localhost', '.localhost'].includes(c.domain)) {
      expect(['evil', 'tossed'], `${c.name} on ${c.domain}`).not.toContain(c.value);
      if (c.name === 'hostile') {
        expect(c.path).toMatch(/^\/remote\/sandbox\//);
      }
    }
  }
  expect(await page.evaluate(() => localStorage.getItem('jr-isolation-marker'))).toBe('kept');
  // JupyterLab still works with its cookie
  expect(await page.evaluate(async () => (await fetch('/api/contents')).status)).toBe(200);
}

async function hostileResults(tab: Page): Promise<Attacks> {
  await expect(tab.locator('body[data-done="1"]')).toBeAttached({ timeout: 60_000 });
  return JSON.parse((await tab.locator('#results').textContent()) ?? '{}') as Attacks;
}

test('a hostile forwarded page cannot act in JupyterLab', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page);
  await page.evaluate(() => localStorage.setItem('jr-isolation-marker', 'kept'));
  const attackJs = fs.readFileSync(path.join(UI_TESTS, 'forward-pages', 'attack.js'), 'utf-8');

  await test.step('control: the same attacks from JupyterLab\'s own origin succeed', async () => {
    const files = await fileNames();
    const kernels = await kernelIds();
    await page.addScriptTag({ content: attackJs });
    const control = (await page.evaluate(
      opts => (window as unknown as { runAttacks: (o: unknown) => Promise<unknown> }).runAttacks(opts),
      { kernelId, jupyter: BASE, tag: 'control', forms: false }
    )) as Attacks;
    console.log('control (JupyterLab origin):', JSON.stringify(control, null, 1));
    for (const attack of [
      'read document.cookie',
      'GET /api/contents',
      'PUT /api/contents with X-XSRFToken',
      'POST /api/kernels',
      'websocket /api/kernels/<id>/channels',
      'websocket /remote/events'
    ]) {
      expect(control[attack]?.ok, `${attack}: ${control[attack]?.detail}`).toBe(true);
    }
    expect(await fileNames()).toContain('pwned-control-1.txt');
    // clean up what the control did
    for (const name of (await fileNames()).filter(n => !files.includes(n))) {
      await api('DELETE', `/api/contents/${name}`);
    }
    for (const id of (await kernelIds()).filter(k => !kernels.includes(k))) {
      await api('DELETE', `/api/kernels/${id}`);
    }
    expect(await fileNames()).toEqual(files);
    expect(await kernelIds()).toEqual(kernels);
  });

  const filesBefore = await fileNames();
  const kernelsBefore = await kernelIds();
  expect(kernelsBefore).toEqual([kernelId]);

  // every request of the forwarded pages (the tab and what it opens)
  const seen: ISeen[] = [];
  const record = async (request: Request) => {
    let inLab = false;
    try {
      inLab = request.frame().page() === page;
    } catch {
      // not from a frame (a service worker): not the forwarded page's either
      inLab = true;
    }
    if (inLab) {
      return;
    }
    const headers = await request.allHeaders().catch(() => ({}) as Record<string, string>);
    const response = await request.response().catch(() => null);
    seen.push({
      url: request.url(),
      method: request.method(),
      navigation: request.isNavigationRequest(),
      loginCookie: (headers['cookie'] ?? '').includes(`${LOGIN_COOKIE}=`),
      status: response?.status() ?? 0
    });
  };
  const pending: Array<Promise<void>> = [];
  context.on('requestfinished', request => void pending.push(record(request)));
  context.on('requestfailed', request => void pending.push(record(request)));
  const sockets: string[] = [];
  context.on('page', p => p.on('websocket', ws => sockets.push(ws.url())));

  const tab = await openForwardPage(page);
  const results = await hostileResults(tab);
  // a user tricked into a click: the forms post as top-level navigations (new tabs)
  const tabs = context.pages().length;
  await tab.locator('#bait1').click();
  await tab.locator('#bait2').click();
  await expect.poll(() => context.pages().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(tabs + 2);
  await tab.waitForTimeout(2000); // let the posts land
  await Promise.all(pending);
  await tab.screenshot({ path: artifactPath('forward-hostile-page.png') });

  await test.step('the page is on its own origin, opened without an opener', async () => {
    const url = new URL(tab.url());
    expect(url.origin).toMatch(OWN_ORIGIN);
    expect(url.pathname).toBe('/');
    ownOrigin = url.origin;
    expect(await tab.evaluate(() => self.origin)).toBe(ownOrigin); // a real origin
    expect(await tab.evaluate(() => window.opener === null)).toBe(true);
    expect(await tab.evaluate(() => document.referrer)).toBe('');
  });

  await test.step('the page saw no cookie of Jupyter\'s and no success', async () => {
    console.log('hostile page (own origin):', scrub(JSON.stringify(results, null, 1)));
    expect(Object.keys(results).length).toBeGreaterThanOrEqual(12);
    for (const [attack, result] of Object.entries(results)) {
      expect(result.ok, `${attack}: ${result.detail}`).not.toBe(true);
    }
    // it reads cookies, its own only: the "evil" ones its app set on its own host
    const cookie = results['read document.cookie'].detail;
    expect(cookie).toContain('_xsrf=evil');
    expect(cookie).not.toMatch(/_xsrf=(?!evil)/);
  });

  await test.step('nothing happened in Jupyter: no file, no kernel', async () => {
    expect(await fileNames()).toEqual(filesBefore);
    expect(await kernelIds()).toEqual(kernelsBefore);
    const pwned = await api('GET', '/api/contents/pwned-origin-1.txt');
    expect(pwned.status).toBe(404);
  });

  await test.step('no request to Jupyter carried its login cookie or succeeded', async () => {
    const jupyterHost = new URL(BASE).host;
    const jupyterApi = seen.filter(s => {
      const url = new URL(s.url);
      return url.host === jupyterHost && /^\/(api|remote\/events)(\/|\?|$)/.test(url.pathname);
    });
    console.log(
      'requests of the forwarded pages to Jupyter:\n' +
        jupyterApi
          .map(
            s =>
              `  ${s.method} ${new URL(s.url).pathname}${new URL(s.url).search} -> ${s.status}` +
              `${s.navigation ? ' (navigation)' : ''}${s.loginCookie ? ' WITH login cookie' : ''}`
          )
          .join('\n')
    );
    // 5 fetches, 2 no-cors posts, 2 forms into frames, 2 forms in new tabs
    expect(jupyterApi.length).toBeGreaterThanOrEqual(11);
    expect(jupyterApi.filter(s => s.navigation && s.method === 'POST').length).toBeGreaterThanOrEqual(4);
    for (const s of jupyterApi) {
      expect(s.status < 200 || s.status >= 300, `${s.method} ${s.url} -> ${s.status}`).toBe(true);
      if (!s.navigation) {
        expect(s.loginCookie, `${s.method} ${s.url} carried the login cookie`).toBe(false);
      }
    }
    expect(sockets.some(u => u.includes(`/api/kernels/${kernelId}/channels`))).toBe(true);
  });

  await test.step("Jupyter's cookies and JupyterLab's storage survive", async () => {
    await expectJupyterCookiesIntact(page);
    // the page's cookies stayed on its own host (Domain=127.0.0.1 dropped by the proxy)
    const ownHost = new URL(ownOrigin).hostname;
    const own = (await context.cookies()).filter(c => c.domain === ownHost).map(c => c.name);
    expect(own).toEqual(expect.arrayContaining(['_xsrf', LOGIN_COOKIE, 'hostile']));
  });
  await context.close();
});

test('a benign forwarded app works on its own origin', async ({ browser }) => {
  expect(ownOrigin).toMatch(OWN_ORIGIN);
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page);
  const tab = await openForwardPage(page);
  expect(new URL(tab.url()).origin).toBe(ownOrigin);
  await tab.goto(`${ownOrigin}/benign/`);
  const check = (name: string) => tab.locator(`dd[data-check="${name}"]`);
  await expect(check('done')).toHaveText('yes', { timeout: 30_000 });
  const shown: Record<string, string> = {};
  for (const dd of await tab.locator('dd').all()) {
    shown[(await dd.getAttribute('data-check')) ?? ''] = (await dd.textContent()) ?? '';
  }
  console.log('benign app:', scrub(JSON.stringify(shown, null, 1)));
  await tab.screenshot({ path: artifactPath('forward-benign-app.png') });

  await expect(check('classic script')).toHaveText('ran');
  await expect(check('inline script')).toHaveText('ran');
  await expect(check('module script')).toHaveText('ran');
  await expect(check('fetch GET')).toHaveText('42');
  await expect(check('custom header')).toHaveText('7');
  await expect(check('fetch POST JSON')).toHaveText('{"a":1}');
  await expect(check('fetch with credentials')).toHaveText('42');
  await expect(check('XHR GET')).toHaveText('42');
  await expect(check('websocket')).toHaveText('echo:hi');
  await expect(check('own frame')).toHaveText('ran');
  // a real origin: what TensorBoard needs (storage, its cookie, a chart worker) works
  await expect(check('localStorage')).toHaveText('works');
  // (its cookies: appsession and those the app's root, the hostile page, set on Open)
  await expect(check('document.cookie')).toHaveText(/^works: ".*appsession=1/);
  await expect(check('worker')).toHaveText('ran');
  await expect(check('service worker')).toHaveText('works');
  await expect(check('app cookie on fetch')).toContainText('appsession=1');
  const appCookie = (await context.cookies()).find(c => c.name === 'appsession');
  expect(appCookie?.domain).toBe(new URL(ownOrigin).hostname); // host-only, its own host
  expect(appCookie?.path).toBe('/benign/');
  expect(await tab.evaluate(() => localStorage.getItem('k'))).toBe('v');
  // JupyterLab's storage is not the app's: another origin
  expect(await page.evaluate(() => localStorage.getItem('k'))).toBeNull();

  // a link of the app to its own page in a new tab: the same origin
  const [popup] = await Promise.all([context.waitForEvent('page'), tab.locator('#popup').click()]);
  await expect(popup.locator('#frame')).toHaveText('a page of the app');
  expect(await popup.evaluate(() => self.origin)).toBe(ownOrigin);
  await context.close();
});

test('a browser elsewhere gets the sandbox route, which isolates too', async ({ browser }) => {
  expect(ownOrigin).toMatch(OWN_ORIGIN);
  // the entry route as a browser on another machine asks it (Jupyter named otherwise
  // than by a loopback name): the sandbox route, not the forward's own origin
  const entry = await entryAs(REMOTE_NAME, `/remote/forward/${forwardId}/`);
  expect(entry.status).toBe(303);
  expect(entry.location).toMatch(new RegExp(`^/remote/sandbox/${forwardId}/[A-Za-z0-9_-]{22}/$`));
  const sandboxURL = `${BASE}${entry.location}`;
  const local = await entryAs(new URL(BASE).host, `/remote/forward/${forwardId}/`);
  expect(new URL(local.location).origin).toBe(ownOrigin); // the control: this browser

  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page);
  await page.evaluate(() => localStorage.setItem('jr-isolation-marker', 'kept'));
  const filesBefore = await fileNames();
  const kernelsBefore = await kernelIds();
  const tab = await context.newPage();
  await tab.goto(sandboxURL);
  const results = await hostileResults(tab);
  console.log('hostile page (sandbox):', scrub(JSON.stringify(results, null, 1)));
  const response = await tab.request.get(sandboxURL, { maxRedirects: 0 });
  expect(response.headers()['content-security-policy']).toContain(SANDBOX_CSP);
  expect(await tab.evaluate(() => self.origin)).toBe('null');
  expect(Object.keys(results).length).toBeGreaterThanOrEqual(12);
  for (const [attack, result] of Object.entries(results)) {
    expect(result.ok, `${attack}: ${result.detail}`).not.toBe(true);
  }
  // the service's own CSP asked for allow-same-origin: every policy applies, ours wins
  expect(results['read document.cookie'].detail).toContain("lacks the 'allow-same-origin' flag");
  await tab.waitForTimeout(2000); // let the page's form posts land
  expect(await fileNames()).toEqual(filesBefore);
  expect(await kernelIds()).toEqual(kernelsBefore);
  expect((await api('GET', '/api/contents/pwned-sandbox-1.txt')).status).toBe(404);
  await expectJupyterCookiesIntact(page);
  await context.close();

  // the server logged the forwarded pages' requests without their capabilities
  const log = fs.readFileSync(path.join(UI_TESTS, 'test-results', 'isolation-server.log'), 'utf-8');
  expect(log).toContain(`/remote/forward/${forwardId}/`);
  expect(log).toContain('jr-***.localhost');
  expect(log).not.toContain(new URL(ownOrigin).hostname.slice(3, 35));
  expect(log).not.toContain(entry.location.split('/')[4]);
});
