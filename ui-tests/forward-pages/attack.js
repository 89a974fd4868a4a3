/*
 * What a hostile forwarded page tries on the JupyterLab that opened it. Served by
 * forward_app.py and run by hostile.html in the forwarded page (on the forward's own
 * origin jr-<secret>.localhost, or sandboxed under Jupyter); the test also runs it
 * inside JupyterLab's own page as a control, where it succeeds.
 *
 * runAttacks({kernelId, jupyter, tag, forms, toss}) -> {attack: {ok, detail}}: ok is true
 * when the attack visibly succeeded, false when it visibly failed, null when the page
 * cannot tell (simple requests, forms and cookies set for Jupyter's host, whose effect
 * it cannot see: the test checks on the server and in the browser's cookie jar that
 * nothing happened). `jupyter` is Jupyter's origin (a page knows where JupyterLab runs).
 */
window.runAttacks = async function runAttacks(opts) {
  const results = {};
  const origin = opts.jupyter; // Jupyter's scheme, host and port
  const wsOrigin = origin.replace(/^http/, 'ws');
  // A cookie of Jupyter's is one of its names with a value the page did not set itself
  // (the hostile app also sets "evil" cookies of those names on its own origin).
  const jupyterCookie = text =>
    text
      .split('; ')
      .map(pair => pair.split('='))
      .find(([name, value]) => /^(_xsrf|username-)/.test(name) && value !== 'evil' && value !== 'tossed');
  const attempt = async (name, fn) => {
    try {
      results[name] = await fn();
    } catch (e) {
      results[name] = { ok: false, detail: `threw ${e && e.name}: ${e && e.message}` };
    }
  };

  let cookie = '';
  await attempt('read document.cookie', async () => {
    cookie = document.cookie;
    return { ok: jupyterCookie(cookie) !== undefined, detail: JSON.stringify(cookie) };
  });
  const found = jupyterCookie(cookie.split('; ').filter(c => c.startsWith('_xsrf=')).join('; '));
  const xsrf = found ? decodeURIComponent(found[1]) : 'guessed';
  const file = n => `pwned-${opts.tag}-${n}.txt`;
  const content = JSON.stringify({ type: 'file', format: 'text', content: 'pwned' });
  const json = { 'Content-Type': 'application/json' };
  const call = (name, url, init) =>
    attempt(name, async () => {
      const r = await fetch(origin + url, { credentials: 'include', ...init });
      const text = await r.text();
      return { ok: r.ok, detail: `${r.status} ${text.slice(0, 80)}` };
    });
  await call('GET /api/contents', '/api/contents', {});
  await call('PUT /api/contents with X-XSRFToken', `/api/contents/${file(1)}`, {
    method: 'PUT',
    headers: { ...json, 'X-XSRFToken': xsrf },
    body: content
  });
  await call('PUT /api/contents without X-XSRFToken', `/api/contents/${file(2)}`, {
    method: 'PUT',
    headers: json,
    body: content
  });
  await call(
    'PUT /api/contents with _xsrf query arg',
    `/api/contents/${file(3)}?_xsrf=${encodeURIComponent(xsrf)}`,
    { method: 'PUT', headers: json, body: content }
  );
  await call('POST /api/kernels', '/api/kernels', {
    method: 'POST',
    headers: { ...json, 'X-XSRFToken': xsrf },
    body: JSON.stringify({ name: 'python3' })
  });
  // Simple requests: sent without a preflight, though their answers stay unreadable.
  const blind = (name, url, body) =>
    attempt(name, async () => {
      const r = await fetch(origin + url, {
        method: 'POST',
        mode: 'no-cors',
        credentials: 'include',
        headers: { 'Content-Type': 'text/plain' },
        body
      });
      return { ok: null, detail: `sent, answer ${r.type}` };
    });
  const q = `?_xsrf=${encodeURIComponent(xsrf)}`;
  await blind('no-cors POST /api/kernels', `/api/kernels${q}`, '{"name": "python3"}');
  await blind('no-cors POST /api/contents', `/api/contents${q}`, '{"type": "file"}');

  const socket = (name, url) =>
    attempt(
      name,
      () =>
        new Promise(resolve => {
          const ws = new WebSocket(url);
          const done = result => {
            clearTimeout(timer);
            ws.close();
            resolve(result);
          };
          const timer = setTimeout(() => done({ ok: false, detail: 'no answer in 5 s' }), 5000);
          ws.onopen = () => done({ ok: true, detail: 'open' });
          ws.onerror = () => done({ ok: false, detail: 'error' });
        })
    );
  await socket(
    'websocket /api/kernels/<id>/channels',
    `${wsOrigin}/api/kernels/${opts.kernelId}/channels?session_id=${opts.tag}`
  );
  await socket('websocket /remote/events', `${wsOrigin}/remote/events`);

  if (opts.toss) {
    // Cookie tossing: set _xsrf for Jupyter's host (a known XSRF token would do half
    // of an XSRF attack). The browser must refuse a Domain the page's host does not
    // match. (Not in the control: there it would reset JupyterLab's own XSRF cookie.)
    await attempt('set cookies for Jupyter\'s host', async () => {
      const host = new URL(origin).hostname;
      for (const domain of [host, 'localhost', '.localhost', '127.0.0.1']) {
        document.cookie = `_xsrf=tossed; domain=${domain}; path=/`;
      }
      return { ok: null, detail: `after: ${JSON.stringify(document.cookie)}` };
    });
  }

  if (opts.forms) {
    // Forms post without CORS: into frames, and as top-level navigations (new tabs),
    // where Chrome may attach a fresh SameSite-Lax cookie ("Lax+POST"). New tabs need
    // a click each: the page baits the user (the test clicks #bait1, #bait2).
    const post = (action, target, body) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = origin + action;
      form.target = target;
      form.enctype = 'text/plain';
      const input = document.createElement('input');
      input.name = body.slice(0, -1) + ', "x": "';
      input.value = '"}';
      form.appendChild(input);
      document.body.appendChild(form);
      form.submit();
    };
    const frame = name => {
      const sink = document.createElement('iframe');
      sink.name = name;
      document.body.appendChild(sink);
    };
    frame('sink1');
    frame('sink2');
    post(`/api/contents${q}`, 'sink1', '{"type": "file"}');
    post(`/api/kernels${q}`, 'sink2', '{"name": "python3"}');
    const bait = (id, action, body) => {
      const button = document.createElement('button');
      button.id = id;
      button.textContent = 'Continue';
      button.onclick = () => post(action, '_blank', body); // one new tab per click
      document.body.appendChild(button);
    };
    bait('bait1', `/api/contents/${file(4)}${q}`, '{"type": "file"}');
    bait('bait2', `/api/kernels${q}`, '{"name": "python3"}');
    await new Promise(resolve => setTimeout(resolve, 2000));
    results['form POST into frames'] = { ok: null, detail: 'submitted' };
  }
  return results;
};
