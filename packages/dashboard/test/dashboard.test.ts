import { RedisBackend, RedisControlPlane } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { chord, group, signature, TaskStatus } from '@machinery/core';
import { PrivateRedis } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import type { DeadLetterView, GroupView, OverviewView, TaskView } from '../src/index.js';
import { add, boom, csrfOf, echo, getJson, LONG, readEvents, request, slow, useStacks } from './stack.js';

const { stack, dashboard, serve, defer } = useStacks();

describe('pages and API over node:http, against Redis', () => {
  it('the overview counts pending, delayed and dead-letter tasks as the broker lists them', async () => {
    const s = await stack();
    await s.server.send(add.signature(1, 2));
    await s.server.send(add.signature(3, 4));
    await s.server.send(add.signatureWith({ eta: new Date(Date.now() + 3_600_000) }, 5, 6));
    const o = await getJson<OverviewView>(`${s.url}/api/overview`);
    const row = o.queues.find((q) => q.queue === s.queue);
    expect(row).toMatchObject({
      pending: { count: 2, complete: true },
      delayed: { count: 1 },
      deadLetters: { count: 0 },
      paused: false,
      workers: 0,
    });
    expect((await s.broker.pendingTasks(s.queue)).length).toBe(2);

    const page = await request(`${s.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`data-q="${s.queue}" data-col="pending">2<`);
    expect(page.body).toContain(`data-q="${s.queue}" data-col="delayed">1<`);
  });

  it('a task page shows state, results and the timeline of events the dashboard received', async () => {
    const s = await stack();
    await s.worker();
    const r = await s.server.send(add.signature(20, 22));
    expect(await r.get({ timeoutMs: 10_000 })).toBe(42);
    const t = await eventually(async () => {
      const view = await getJson<TaskView>(`${s.url}/api/tasks/${r.taskUUID}`);
      expect(view.timeline.map((e) => e.type)).toEqual(
        expect.arrayContaining(['sent', 'started', 'succeeded']),
      );
      return view;
    }, LONG);
    expect(t).toMatchObject({ kind: 'task', name: 'add', state: TaskStatus.SUCCESS, error: null });
    expect(t.results).toEqual([{ type: 'int64', value: 42 }]);
    const page = await request(`${s.url}/tasks/${r.taskUUID}`);
    expect(page.body).toContain('<dd data-field="state">SUCCESS</dd>');
    expect(page.body).toContain('<dd data-field="results">42</dd>');
    expect(page.body).toContain('<td>succeeded</td>');
  });

  it('a waiting task shows its arguments; a failed one its error', async () => {
    const s = await stack();
    const waiting = await s.server.send(echo.signature('hello'));
    const w = await getJson<TaskView>(`${s.url}/api/tasks/${waiting.taskUUID}`);
    expect(w).toMatchObject({
      state: 'PENDING',
      argsFrom: 'pending',
      queue: s.queue,
      args: [{ type: 'string', value: 'hello' }],
    });
    await s.worker();
    const failed = await s.server.send(boom.signature('x'));
    await expect(failed.get({ timeoutMs: 10_000 })).rejects.toThrow();
    const f = await getJson<TaskView>(`${s.url}/api/tasks/${failed.taskUUID}`);
    expect(f.state).toBe('FAILURE');
    expect(String(f.error)).toContain('boom with x');
  });

  it('a group page lists its members with their states; the groups page lists groups it has seen', async () => {
    const s = await stack();
    const sent = await s.server.sendGroup(group(add.signature(1, 1), add.signature(2, 2)));
    const uuid = sent.groupUUID;
    const g = await getJson<GroupView>(`${s.url}/api/tasks/${uuid}`);
    expect(g.kind).toBe('group');
    expect(g.members).toHaveLength(2);
    expect(g.counts).toEqual({ PENDING: 2 });
    await s.worker();
    await eventually(async () => {
      const done = await getJson<GroupView>(`${s.url}/api/groups/${uuid}`);
      expect(done.counts).toEqual({ SUCCESS: 2 });
    }, LONG);
    const groups = await getJson<{ groups: { uuid: string }[] }>(`${s.url}/api/groups`);
    expect(groups.groups.map((x) => x.uuid)).toContain(uuid);
    const page = await request(`${s.url}/groups/${uuid}`);
    expect(page.body).toContain('2 (2 SUCCESS)');
  });

  it('a chord: its group page lists the members and says the callback was triggered; the callback has its task page', async () => {
    const s = await stack();
    const sent = await s.server.sendChord(
      chord(group(add.signature(1, 2), add.signature(3, 4)), add.signature()),
    );
    const uuid = sent.group.groupUUID;
    const before = await getJson<GroupView>(`${s.url}/api/groups/${uuid}`);
    expect(before).toMatchObject({ kind: 'group', chordTriggered: false, counts: { PENDING: 2 } });
    await s.worker();
    // The callback receives the members' results: 3 + 7.
    expect(await sent.get({ timeoutMs: 10_000 })).toBe(10);
    await eventually(async () => {
      const done = await getJson<GroupView>(`${s.url}/api/groups/${uuid}`);
      expect(done.chordTriggered).toBe(true);
      expect(done.counts).toEqual({ SUCCESS: 2 });
      expect(done.members.map((m) => m.name)).toEqual(['add', 'add']);
    }, LONG);
    const page = await request(`${s.url}/groups/${uuid}`);
    expect(page.body).toContain('callback triggered');
    expect((await request(`${s.url}/groups`)).body).toMatch(new RegExp(`${uuid}[\\s\\S]*?triggered`));
    const callback = await getJson<TaskView>(`${s.url}/api/tasks/${sent.callback.taskUUID}`);
    expect(callback).toMatchObject({ kind: 'task', name: 'add', state: 'SUCCESS' });
    expect(callback.results).toEqual([{ type: 'int64', value: 10 }]);
  });

  it('an unknown UUID answers 404 with what to check', async () => {
    const s = await stack();
    const r = await request(`${s.url}/api/tasks/task_nope`);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error).toMatch(/No task or group task_nope/);
    expect((await request(`${s.url}/tasks/task_nope`)).status).toBe(404);
  });

  it('lists dead letters with their decoded task, and requeue moves them back to their queue', async () => {
    const s = await stack({ actions: true });
    await s.worker();
    await s.server.send(signature('not_registered_here', ['a']));
    const letters = await eventually(async () => {
      const d = await getJson<{ deadLetters: DeadLetterView[] }>(`${s.url}/api/dead-letters`);
      expect(d.deadLetters).toHaveLength(1);
      return d.deadLetters;
    }, LONG);
    expect(letters[0]?.task).toMatchObject({
      name: 'not_registered_here',
      args: [{ type: 'string', value: 'a' }],
    });
    const page = await request(`${s.url}/dead-letters`);
    const r = await request(`${s.url}/api/dead-letters/requeue`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body) },
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, requeued: 1 });
  });

  it('purge removes the dead letters of one queue', async () => {
    const s = await stack({ actions: true });
    await s.worker();
    await s.server.send(signature('not_registered_here', ['a']));
    await eventually(async () => expect(await s.broker.deadLetters()).toHaveLength(1), LONG);
    const page = await request(`${s.url}/dead-letters`);
    expect(page.body).toContain(`data-url="/api/queues/${s.queue}/purge-dead-letters"`);
    const r = await request(`${s.url}/api/queues/${s.queue}/purge-dead-letters`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body) },
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, removed: { deadLetters: 1 } });
    expect(await s.broker.deadLetters()).toHaveLength(0);
  });

  it('pause and resume change the queue state that workers and the overview read', async () => {
    const s = await stack({ actions: true });
    const page = await request(`${s.url}/`);
    const headers = { 'x-machinery-csrf': csrfOf(page.body) };
    const q = encodeURIComponent(s.queue);
    const buttonOf = (body: string, action: string) =>
      new RegExp(`<button [^>]*data-action="${action}" data-url="/api/queues/${q}/${action}"[^>]*>`).exec(
        body,
      )?.[0];
    // A running queue offers Pause; Resume is in the page, hidden, for the script to swap in.
    expect(buttonOf(page.body, 'pause')).not.toContain(' hidden');
    expect(buttonOf(page.body, 'resume')).toContain(' hidden');
    expect((await request(`${s.url}/api/queues/${q}/pause`, { method: 'POST', headers })).status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
    const o = await getJson<OverviewView>(`${s.url}/api/overview`);
    expect(o.queues.find((x) => x.queue === s.queue)?.paused).toBe(true);
    const paused = (await request(`${s.url}/`)).body;
    expect(buttonOf(paused, 'pause')).toContain(' hidden');
    expect(buttonOf(paused, 'resume')).not.toContain(' hidden');
    expect((await request(`${s.url}/api/queues/${q}/resume`, { method: 'POST', headers })).status).toBe(200);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(false);
  });

  it('revoke aborts a running task, which ends FAILURE', async () => {
    const s = await stack({ actions: true });
    await s.worker();
    const r = await s.server.send(slow.signature(60));
    await eventually(async () => expect((await s.backend.getState(r.taskUUID))?.state).toBe('STARTED'), LONG);
    const page = await request(`${s.url}/tasks/${r.taskUUID}`);
    expect(page.body).toContain('data-action="revoke"');
    const res = await request(`${s.url}/api/tasks/${r.taskUUID}/revoke`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body) },
    });
    expect(res.status).toBe(200);
    await eventually(async () => {
      const t = await getJson<TaskView>(`${s.url}/api/tasks/${r.taskUUID}`);
      expect(t.state).toBe('FAILURE');
      expect(t.revoked?.reason).toBe('revoked from the dashboard');
    }, LONG);
  });

  it('lists live workers from the control plane', async () => {
    const s = await stack();
    await s.worker();
    await eventually(async () => {
      const w = await getJson<{ workers: { queue: string; concurrency: number }[] }>(`${s.url}/api/workers`);
      expect(w.workers).toEqual([expect.objectContaining({ queue: s.queue, concurrency: 4 })]);
    }, LONG);
    expect((await request(`${s.url}/workers`)).body).toContain(s.queue);
  });

  it('live updates: task events and fresh counts arrive over server-sent events', async () => {
    const s = await stack();
    await s.worker();
    const stream = readEvents(
      `${s.url}/api/stream`,
      (frames) =>
        frames.some((f) => f.event === 'task' && JSON.parse(f.data).type === 'succeeded') &&
        frames.some((f) => f.event === 'overview'),
    );
    // The stream is live once its first overview frame was sent; a task sent after that is seen.
    await eventually(async () => {
      const r = await s.server.send(add.signature(1, 1));
      await r.get({ timeoutMs: 10_000 });
    });
    const frames = await stream;
    const overview = JSON.parse(frames.find((f) => f.event === 'overview')?.data ?? '{}');
    expect(overview.queues.map((q: { queue: string }) => q.queue)).toContain(s.queue);
    expect(overview.charts).toContain('<svg');
  });

  it('charts count what the worker finished', async () => {
    const s = await stack();
    await s.worker();
    for (let i = 0; i < 3; i++) await (await s.server.send(add.signature(i, i))).get({ timeoutMs: 10_000 });
    await eventually(async () => {
      const series = await getJson<{ buckets: { succeeded: number }[] }>(`${s.url}/api/series`);
      expect(series.buckets.reduce((n, b) => n + b.succeeded, 0)).toBe(3);
    }, LONG);
  });

  it('without a control plane, pages say what is unknown and control actions answer 409', async () => {
    const s = await stack();
    const base = await serve(dashboard({ broker: s.broker, backend: s.backend, actions: true }));
    const sent = await s.server.send(add.signature(1, 2));
    const o = await getJson<OverviewView>(`${base}/api/overview`);
    expect(o.queues.find((q) => q.queue === s.queue)).toMatchObject({
      pending: { count: 1 },
      paused: null,
      workers: null,
    });
    expect(o.unavailable).toMatchObject({ paused: 'no control plane', workers: 'no control plane' });
    expect((await request(`${base}/workers`)).body).toContain('No control plane');
    expect((await request(`${base}/tasks/${sent.taskUUID}`)).body).toContain('(unknown: no control plane)');
    const page = await request(`${base}/`);
    const r = await request(`${base}/api/tasks/${sent.taskUUID}/revoke`, {
      method: 'POST',
      headers: { 'x-machinery-csrf': csrfOf(page.body) },
    });
    expect(r.status).toBe(409);
  });

  it('while Redis is down, pages and the API answer 503 within requestTimeoutMs saying what to check, and recover when it is back', async () => {
    const redis = await PrivateRedis.start();
    defer(() => redis.stop());
    const broker = new RedisBroker({ url: redis.url });
    const backend = new RedisBackend({ url: redis.url });
    const control = new RedisControlPlane({ url: redis.url });
    defer(async () => {
      await Promise.all([broker.close(), backend.close(), control.close()]);
    });
    expect(() => dashboard({ broker, backend, requestTimeoutMs: 0 })).toThrow(
      /requestTimeoutMs must be a positive/,
    );
    const d = dashboard({ broker, backend, control, requestTimeoutMs: 1000, refreshMs: 200 });
    await d.ready;
    const base = await serve(d);
    expect((await request(`${base}/`)).status).toBe(200);

    await redis.stop();
    // Without the deadline the first answers wait for the clients' reconnection attempts (ioredis
    // gives up on a queued command after 20 of them: 10 s and more), so the first is the deadline's.
    const first = await request(`${base}/`);
    expect(first.status).toBe(503);
    expect(first.body).toContain('did not answer within 1 s: check that they are reachable');
    for (const path of ['/api/overview', '/workers', '/dead-letters', '/tasks/task_x']) {
      const r = await request(`${base}${path}`);
      expect(r.status, path).toBe(503);
      expect(r.body, path).toMatch(/reachable/);
    }

    await redis.restart();
    await eventually(async () => {
      expect((await request(`${base}/`)).status).toBe(200);
      expect((await request(`${base}/api/overview`)).status).toBe(200);
    }, LONG);
  });
});
