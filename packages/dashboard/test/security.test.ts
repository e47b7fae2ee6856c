import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connect } from '@machinery/connect';
import { group, isMachineryError, signature } from '@machinery/core';
import { expectNoSecret, SECRET, SecuredRedis } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Redact, serveDashboard } from '../src/index.js';
import {
  boom,
  csrfOf,
  echo,
  getJson,
  LONG,
  openEvents,
  readEvents,
  report,
  request,
  useStacks,
} from './stack.js';

const { stack, dashboard, serve, defer } = useStacks();
const TOKEN = 'a-long-dashboard-token';

describe('read-only unless actions are enabled', () => {
  it('refuses every action with 403 and shows no buttons', async () => {
    const s = await stack();
    const page = await request(`${s.url}/`);
    expect(page.body).not.toContain('data-action=');
    expect(page.body).toContain('read-only');
    const headers = { 'x-machinery-csrf': csrfOf(page.body) };
    for (const path of [
      `/api/queues/${s.queue}/pause`,
      '/api/dead-letters/requeue',
      `/api/queues/${s.queue}/purge-dead-letters`,
      '/api/tasks/task_x/revoke',
    ]) {
      const r = await request(`${s.url}${path}`, { method: 'POST', headers });
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body).error).toMatch(/read-only/);
    }
    expect(await s.control.pauses.isPaused(s.queue)).toBe(false);
  });
});

describe('CSRF: actions need the page token, and same-origin', () => {
  it('refuses a POST without the token, with a wrong one, cross-site, or from another origin', async () => {
    const s = await stack({ actions: true });
    const token = csrfOf((await request(`${s.url}/`)).body);
    const pause = `${s.url}/api/queues/${s.queue}/pause`;
    const attempts: Record<string, string>[] = [
      {},
      { 'x-machinery-csrf': 'wrong' },
      { 'x-machinery-csrf': token, 'sec-fetch-site': 'cross-site' },
      { 'x-machinery-csrf': token, 'sec-fetch-site': 'same-site' },
      { 'x-machinery-csrf': token, origin: 'http://evil.example' },
      // What a cross-site HTML form can send: a simple content type, no custom header.
      { 'content-type': 'application/x-www-form-urlencoded', origin: 'null' },
    ];
    for (const headers of attempts) {
      const r = await request(pause, { method: 'POST', headers, body: 'x=1' });
      expect(r.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await s.control.pauses.isPaused(s.queue)).toBe(false);
    const ok = await request(pause, {
      method: 'POST',
      headers: { 'x-machinery-csrf': token, 'sec-fetch-site': 'same-origin', origin: new URL(s.url).origin },
    });
    expect(ok.status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
  });

  it('a request with Authorization: Bearer needs no page token (browsers never add that header)', async () => {
    const s = await stack({ actions: true, auth: { token: TOKEN } });
    const r = await request(`${s.url}/api/queues/${s.queue}/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(r.status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
  });
});

describe('authentication', () => {
  it('with a token: 401 without it; bearer works; ?token= sets an HttpOnly SameSite cookie and drops the token from the URL', async () => {
    const s = await stack({ auth: { token: TOKEN } });
    const none = await request(`${s.url}/api/overview`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error).toMatch(/Authorization: Bearer/);
    expect((await request(`${s.url}/`)).status).toBe(401);
    expect(
      (await request(`${s.url}/api/overview`, { headers: { authorization: 'Bearer wrong-token-here' } }))
        .status,
    ).toBe(401);
    expect(
      (await request(`${s.url}/api/overview`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);

    const login = await request(`${s.url}/workers?token=${TOKEN}&x=1`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/workers?x=1');
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0] as string;
    expect((await request(`${s.url}/workers`, { headers: { cookie: session } })).status).toBe(200);
    expect(
      (await request(`${s.url}/workers`, { headers: { cookie: 'machinery_dashboard=forged' } })).status,
    ).toBe(401);
  });

  it('with a username and password: browsers are asked (Basic), a wrong password is refused', async () => {
    const s = await stack({ auth: { username: 'ops', password: 'pw-of-ops' } });
    const none = await request(`${s.url}/`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic /);
    const basic = (u: string, p: string) => ({
      authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
    });
    expect((await request(`${s.url}/`, { headers: basic('ops', 'pw-of-ops') })).status).toBe(200);
    expect((await request(`${s.url}/`, { headers: basic('ops', 'wrong') })).status).toBe(401);
    expect((await request(`${s.url}/`, { headers: basic('root', 'pw-of-ops') })).status).toBe(401);
  });

  it('without auth, answers only loopback host names (a rebinding DNS name is refused)', async () => {
    const s = await stack();
    const port = new URL(s.url).port;
    expect((await request(`${s.url}/`, { headers: { host: `localhost:${port}` } })).status).toBe(200);
    const rebound = await request(`${s.url}/`, { headers: { host: `attacker.example:${port}` } });
    expect(rebound.status).toBe(403);
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

  it.skipIf(external === undefined)(
    'without auth, refuses a request that reaches it from another machine (non-loopback interface)',
    async () => {
      const s = await stack();
      const port = new URL(await serve(s.dashboard, '0.0.0.0')).port;
      const r = await request(`http://${external}:${port}/api/overview`);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).error).toMatch(/only on loopback/);
    },
  );

  it('serveDashboard refuses to bind anything but loopback without a token or password, and says what to do about a port in use', async () => {
    const s = await stack();
    const base = { broker: s.broker, backend: s.backend, control: s.control, port: 0 };
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      const err = await serveDashboard({ ...base, host }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT'), host).toBe(true);
      expect(String((err as Error).message)).toMatch(/without a token or password/);
    }
    const served = await serveDashboard({ ...base, host: '0.0.0.0', auth: { token: TOKEN } });
    defer(() => served.close());
    expect((await request(`http://127.0.0.1:${(served.server.address() as AddressInfo).port}/`)).status).toBe(
      401,
    );
    const local = await serveDashboard(base);
    defer(() => local.close());
    const port = (local.server.address() as AddressInfo).port;
    const taken = await serveDashboard({ ...base, port }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMachineryError(taken, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(String((taken as Error).message)).toMatch(
      new RegExp(
        `^Cannot listen on 127\\.0\\.0\\.1:${port} \\(.*EADDRINUSE.*\\): another process listens there; choose another port`,
      ),
    );
  });
});

describe('security headers', () => {
  it('every answer forbids framing and inline script; data is never cached', async () => {
    const s = await stack({ actions: true });
    for (const path of ['/', '/api/overview', '/dead-letters', '/api/tasks/task_nope', '/assets/app.js']) {
      const r = await request(`${s.url}${path}`);
      const csp = String(r.headers['content-security-policy']);
      expect(csp, path).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      if (!path.startsWith('/assets/')) expect(r.headers['cache-control']).toBe('no-store');
    }
    const page = (await request(`${s.url}/`)).body;
    // Every script is a file: none inline, no inline event handlers.
    expect(page.match(/<script[^>]*>/g)).toEqual([expect.stringMatching(/src="\/assets\/app\.js"/)]);
    expect(page).not.toMatch(/\son[a-z]+=/i);
  });
});

describe('escaping', () => {
  it('task names, queue names and errors are text, never markup', async () => {
    const s = await stack({ actions: true });
    const evil = '<img src=x onerror=alert(1)>';
    await s.server.send(signature(evil, [evil], { routingKey: `${s.queue}"><script>x()</script>` }));
    await s.worker();
    await s.server.send(signature(evil, [evil]));
    await eventually(async () => {
      const d = await getJson<{ deadLetters: unknown[] }>(`${s.url}/api/dead-letters`);
      expect(d.deadLetters).toHaveLength(1);
    }, LONG);
    for (const path of ['/', '/dead-letters']) {
      const body = (await request(`${s.url}${path}`)).body;
      expect(body, path).not.toContain('<img src=x');
      expect(body, path).not.toContain('<script>x()');
    }
    // The API carries the names as they are, as JSON that browsers never sniff as HTML.
    const api = await request(`${s.url}/api/overview`);
    expect(api.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    expect((await request(`${s.url}/dead-letters`)).body).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('redact hides task values everywhere', () => {
  const HIDDEN = 'TOP-SECRET-VALUE';
  const redact: Redact = (kind, value) => {
    if (kind === 'error' && typeof value === 'string') return value.replaceAll(HIDDEN, '[redacted]');
    return JSON.stringify(value).includes(HIDDEN) ? '[redacted]' : value;
  };

  it('in pages, the JSON API and the live stream: args, results, errors, progress, dead letters, groups', async () => {
    const s = await stack({ actions: true, redact });
    const stream = await openEvents(`${s.url}/api/stream`, (frames) =>
      frames.some((f) => f.event === 'task' && JSON.parse(f.data).type === 'failed'),
    );
    const waiting = await s.server.send(echo.signature(HIDDEN));
    const waitingPage = await request(`${s.url}/tasks/${waiting.taskUUID}`);
    const waitingApi = await request(`${s.url}/api/tasks/${waiting.taskUUID}`);
    expect(JSON.parse(waitingApi.body).args).toBe('[redacted]');

    await s.worker();
    await waiting.get({ timeoutMs: 10_000 });
    const failed = await s.server.send(boom.signature(HIDDEN));
    await expect(failed.get({ timeoutMs: 10_000 })).rejects.toThrow(HIDDEN);
    const running = await s.server.send(report.signature(HIDDEN));
    await running.get({ timeoutMs: 10_000 });
    await s.server.send(signature('not_registered_here', [HIDDEN]));
    const groupResult = await s.server.sendGroup(group(echo.signature(HIDDEN), boom.signature(HIDDEN)));
    await eventually(async () => {
      const d = await getJson<{ deadLetters: unknown[] }>(`${s.url}/api/dead-letters`);
      expect(d.deadLetters).toHaveLength(1);
      const g = await getJson<{ counts: Record<string, number> }>(
        `${s.url}/api/groups/${groupResult.groupUUID}`,
      );
      expect(g.counts).toEqual({ SUCCESS: 1, FAILURE: 1 });
    }, LONG);
    const frames = await stream.frames;

    const bodies = [waitingPage.body, waitingApi.body, JSON.stringify(frames)];
    const paths = [
      '/',
      '/api/overview',
      '/api/events',
      `/tasks/${waiting.taskUUID}`,
      `/api/tasks/${waiting.taskUUID}`,
      `/tasks/${failed.taskUUID}`,
      `/api/tasks/${failed.taskUUID}`,
      `/tasks/${running.taskUUID}`,
      `/api/tasks/${running.taskUUID}`,
      '/dead-letters',
      '/api/dead-letters',
      '/groups',
      `/groups/${groupResult.groupUUID}`,
      `/api/groups/${groupResult.groupUUID}`,
      '/workers',
    ];
    for (const path of paths) bodies.push(`${path}\n${(await request(`${s.url}${path}`)).body}`);
    for (const body of bodies) expect(body).not.toContain(HIDDEN);
    const failedView = await getJson<{ error: string }>(`${s.url}/api/tasks/${failed.taskUUID}`);
    expect(failedView.error).toContain('[redacted]');
    const progressView = await getJson<{ progress: { data: unknown } }>(
      `${s.url}/api/tasks/${running.taskUUID}`,
    );
    expect(progressView.progress.data).toBe('[redacted]');
  });
});

describe('no credential reaches a page', () => {
  let redis: SecuredRedis;
  beforeAll(async () => {
    redis = await SecuredRedis.start({ password: SECRET });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a connection whose URLs carry a password shows them masked, in every page, API answer and the stream', async () => {
    const url = redis.url(SECRET);
    const connection = await connect({ broker: url });
    defer(() => connection.close());
    const base = await serve(dashboard({ ...connection, actions: true, refreshMs: 200 }));
    const bodies: string[] = [];
    for (const path of [
      '/',
      '/api/overview',
      '/dead-letters',
      '/workers',
      '/groups',
      '/api/events',
      '/api/tasks/task_missing',
      '/nope',
    ]) {
      const r = await request(`${base}${path}`);
      bodies.push(r.body, JSON.stringify(r.headers));
    }
    const frames = await readEvents(`${base}/api/stream`, (f) => f.some((x) => x.event === 'overview'));
    bodies.push(JSON.stringify(frames));
    expectNoSecret(bodies.join('\n'));
    expect(bodies[0]).toContain(':***@127.0.0.1');
  });

  it('an error that quotes a connection string is shown with the password masked', async () => {
    const s = await stack();
    const broker = Object.assign(Object.create(s.broker), {
      deadLetters: () =>
        Promise.reject(new Error(`Cannot reach redis://:${SECRET}@10.0.0.1:6379 (ECONNREFUSED)`)),
    });
    const base = await serve(dashboard({ broker, backend: s.backend, control: s.control }));
    const page = await request(`${base}/dead-letters`);
    const api = await request(`${base}/api/dead-letters`);
    expect(page.status).toBe(500);
    expect(page.body).toContain('redis://:***@10.0.0.1:6379');
    expectNoSecret(page.body, api.body);
  });
});
