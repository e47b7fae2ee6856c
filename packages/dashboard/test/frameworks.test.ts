import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import express from 'express';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createDashboard, type Dashboard } from '../src/index.js';
import { add, csrfOf, getJson, openEvents, request, type Stack, startStack } from './stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server: HttpServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stackAnd(basePath: string): Promise<{ s: Stack; dashboard: Dashboard }> {
  const s = await startStack();
  cleanups.push(() => s.close());
  const dashboard = createDashboard({
    broker: s.broker,
    backend: s.backend,
    control: s.control,
    basePath,
    actions: true,
    refreshMs: 200,
  });
  cleanups.push(() => dashboard.close());
  return { s, dashboard };
}

describe('mounted in Express under a path prefix', () => {
  it('serves pages, API, assets, actions and the live stream under the prefix, and leaves other routes to the app', async () => {
    const { s, dashboard } = await stackAnd('/admin/queues');
    const app = express();
    // A body parser before the dashboard must not break its actions.
    app.use(express.json());
    app.use('/admin/queues', dashboard);
    app.get('/health', (_req, res) => {
      res.send('app ok');
    });
    const base = await listen(createServer(app));

    const page = await request(`${base}/admin/queues/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('href="/admin/queues/assets/app.css"');
    expect(page.body).toContain('href="/admin/queues/dead-letters"');
    expect((await request(`${base}/admin/queues`)).status).toBe(200);
    expect((await request(`${base}/admin/queues/assets/app.js`)).headers['content-type']).toMatch(
      /javascript/,
    );
    expect((await request(`${base}/health`)).body).toBe('app ok');
    expect((await request(`${base}/elsewhere`)).status).toBe(404);

    await s.server.send(add.signature(1, 2));
    const o = await getJson<{ queues: { queue: string; pending: { count: number } }[] }>(
      `${base}/admin/queues/api/overview`,
    );
    expect(o.queues.find((q) => q.queue === s.queue)?.pending.count).toBe(1);

    const pause = await request(`${base}/admin/queues/api/queues/${s.queue}/pause`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(pause.status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);

    const stream = await openEvents(`${base}/admin/queues/api/stream`, (f) =>
      f.some((x) => x.event === 'overview'),
    );
    expect((await stream.frames).length).toBeGreaterThan(0);
  });
});

describe('mounted in Hono (node adapter) under a path prefix', () => {
  it('serves pages, actions and the live stream through the raw Node objects', async () => {
    const { s, dashboard } = await stackAnd('/admin/queues');
    const app = new Hono<{ Bindings: HttpBindings }>();
    const mount = (c: { env: HttpBindings }) => {
      dashboard(c.env.incoming, c.env.outgoing);
      return RESPONSE_ALREADY_SENT;
    };
    app.all('/admin/queues', mount);
    app.all('/admin/queues/*', mount);
    app.get('/health', (c) => c.text('app ok'));
    const base = await listen(createServer(getRequestListener(app.fetch)));

    const page = await request(`${base}/admin/queues/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('href="/admin/queues/workers"');
    expect((await request(`${base}/health`)).body).toBe('app ok');
    await s.server.send(add.signature(1, 2));
    const o = await getJson<{ queues: { queue: string; pending: { count: number } }[] }>(
      `${base}/admin/queues/api/overview`,
    );
    expect(o.queues.find((q) => q.queue === s.queue)?.pending.count).toBe(1);
    const pause = await request(`${base}/admin/queues/api/queues/${s.queue}/pause`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(pause.status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
    const stream = await openEvents(`${base}/admin/queues/api/stream`, (f) =>
      f.some((x) => x.event === 'overview'),
    );
    expect((await stream.frames).length).toBeGreaterThan(0);
  });
});

describe('node:http with a base path', () => {
  it('answers under the base path and 404s outside it', async () => {
    const { dashboard } = await stackAnd('/dash');
    const base = await listen(createServer(dashboard));
    expect((await request(`${base}/dash/`)).status).toBe(200);
    expect((await request(`${base}/dash/workers`)).status).toBe(200);
    expect((await request(`${base}/dashboard`)).status).toBe(404);
    expect((await request(`${base}/`)).status).toBe(404);
  });
});
