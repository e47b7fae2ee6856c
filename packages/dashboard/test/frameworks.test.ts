import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import express from 'express';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Dashboard } from '../src/index.js';
import { add, csrfOf, getJson, openEvents, request, type Stack, useStacks } from './stack.js';

const { stack, dashboard: openDashboard, serve, defer } = useStacks();

async function stackAnd(basePath: string): Promise<{ s: Stack; dashboard: Dashboard }> {
  const s = await stack();
  const dashboard = openDashboard({
    broker: s.broker,
    backend: s.backend,
    control: s.control,
    basePath,
    actions: true,
    refreshMs: 200,
  });
  return { s, dashboard };
}

/**
 * What every framework mount must do under `/admin/queues`: pages with prefixed links, assets, the
 * API with the broker's counts, a CSRF-protected action, the live stream, and other routes left to
 * the app (its `/health` answers `app ok`).
 */
async function expectMounted(s: Stack, base: string): Promise<void> {
  const page = await request(`${base}/admin/queues/`);
  expect(page.status).toBe(200);
  expect(page.body).toContain('href="/admin/queues/assets/app.css"');
  expect(page.body).toContain('href="/admin/queues/workers"');
  expect((await request(`${base}/admin/queues`)).status).toBe(200);
  expect((await request(`${base}/admin/queues/dead-letters`)).status).toBe(200);
  expect((await request(`${base}/admin/queues/assets/app.js`)).headers['content-type']).toMatch(/javascript/);
  expect((await request(`${base}/health`)).body).toBe('app ok');
  expect((await request(`${base}/elsewhere`)).status).toBe(404);

  await s.server.send(add.signature(1, 2));
  const o = await getJson<{ queues: { queue: string; pending: { count: number } }[] }>(
    `${base}/admin/queues/api/overview`,
  );
  expect(o.queues.find((q) => q.queue === s.queue)?.pending.count).toBe(1);

  // What the page's script sends: a JSON body, which a framework's body parser may read first.
  const pause = await request(`${base}/admin/queues/api/queues/${s.queue}/pause`, {
    method: 'POST',
    headers: { 'x-machinery-csrf': csrfOf(page.body), 'content-type': 'application/json' },
    body: '{}',
  });
  expect(pause.status, pause.body).toBe(200);
  expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
  const refused = await request(`${base}/admin/queues/api/queues/${s.queue}/resume`, { method: 'POST' });
  expect(refused.status).toBe(403);
  expect(await s.control.pauses.isPaused(s.queue)).toBe(true);

  const stream = await openEvents(`${base}/admin/queues/api/stream`, (f) =>
    f.some((x) => x.event === 'overview'),
  );
  expect((await stream.frames).length).toBeGreaterThan(0);
}

describe('mounted in a framework under a path prefix', () => {
  it('Express: app.use strips the prefix; a JSON body parser before the dashboard does not break actions', async () => {
    const { s, dashboard } = await stackAnd('/admin/queues');
    const app = express();
    app.use(express.json());
    app.use('/admin/queues', dashboard);
    app.get('/health', (_req, res) => {
      res.send('app ok');
    });
    await expectMounted(s, await serve(app));
  });

  it('Fastify: two routes hand the raw Node objects over (reply.hijack)', async () => {
    const { s, dashboard } = await stackAnd('/admin/queues');
    const app = Fastify();
    const mount = (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      dashboard(req.raw, reply.raw);
    };
    app.all('/admin/queues', mount);
    app.all('/admin/queues/*', mount);
    app.get('/health', async () => 'app ok');
    defer(() => app.close());
    await expectMounted(s, await app.listen({ port: 0, host: '127.0.0.1' }));
  });

  it('Hono on @hono/node-server: the raw objects are c.env.incoming / c.env.outgoing', async () => {
    const { s, dashboard } = await stackAnd('/admin/queues');
    const app = new Hono<{ Bindings: HttpBindings }>();
    const mount = (c: { env: HttpBindings }) => {
      dashboard(c.env.incoming, c.env.outgoing);
      return RESPONSE_ALREADY_SENT;
    };
    app.all('/admin/queues', mount);
    app.all('/admin/queues/*', mount);
    app.get('/health', (c) => c.text('app ok'));
    await expectMounted(s, await serve(getRequestListener(app.fetch)));
  });
});

describe('node:http with a base path', () => {
  it('answers under the base path and 404s outside it', async () => {
    const { dashboard } = await stackAnd('/dash');
    const base = await serve(dashboard);
    expect((await request(`${base}/dash/`)).status).toBe(200);
    expect((await request(`${base}/dash/workers`)).status).toBe(200);
    expect((await request(`${base}/dashboard`)).status).toBe(404);
    expect((await request(`${base}/`)).status).toBe(404);
  });
});
