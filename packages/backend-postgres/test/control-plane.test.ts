import {
  isMachineryError,
  MemoryBroker,
  MemoryBrokerStore,
  silentLogger,
  type TaskEvent,
} from '@machinery/core';
import {
  dropSchema,
  exposedText,
  freePort,
  POSTGRES_URL,
  type RecordingLogger,
  rawPostgresPool,
  recordingLogger,
  rejectionOf,
  SECRET,
  schemaOf,
  schemaPerTest,
  TcpProxy,
  thrownBy,
} from '@machinery/test-services';
import { controlPlaneSuite, eventually, PerNamespace } from '@machinery/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresBackend, PostgresControlPlane, type PostgresControlPlaneOptions } from '../src/index.js';

const raw = rawPostgresPool();
afterAll(() => raw.end());

// Tasks travel through an in-memory broker (one store per test, shared by its servers); results and
// the control plane live in PostgreSQL, each test in a schema of its own, each instance on its own pool.
const brokers = new PerNamespace(() => new MemoryBrokerStore());

controlPlaneSuite({
  name: 'PostgresControlPlane',
  create: ({ namespace }) => new PostgresControlPlane({ url: POSTGRES_URL, schema: schemaOf(namespace) }),
  adapters: ({ namespace, redeliveryTimeoutMs }) => ({
    broker: new MemoryBroker({ store: brokers.get(namespace), leaseMs: redeliveryTimeoutMs }),
    backend: new PostgresBackend({ url: POSTGRES_URL, schema: schemaOf(namespace) }),
  }),
  cleanup: async ({ namespace }) => {
    brokers.delete(namespace)?.dispose();
    await dropSchema(raw, namespace);
  },
});

describe('PostgresControlPlane on PostgreSQL', () => {
  const db = schemaPerTest();
  const { closer } = db;
  const SOON = { timeoutMs: 20_000, intervalMs: 50 };
  const plane = (options: Partial<PostgresControlPlaneOptions> = {}) =>
    closer.add(new PostgresControlPlane({ url: POSTGRES_URL, schema: db.schema, ...options }));
  const event = (publisher: string, n: number): TaskEvent => ({
    type: 'sent',
    taskUUID: `${publisher}_${n}`,
    taskName: publisher,
    queue: 'q',
    at: n,
  });

  /** A control plane whose connections go through a proxy the test can cut. */
  async function behindProxy(): Promise<{
    plane: PostgresControlPlane;
    proxy: TcpProxy;
    logger: RecordingLogger;
  }> {
    const { proxy, url } = await TcpProxy.inFrontOf(POSTGRES_URL);
    const logger = recordingLogger();
    const cut = new PostgresControlPlane({ url, schema: db.schema, logger });
    closer.add({ close: () => proxy.close() });
    closer.add(cut);
    return { plane: cut, proxy, logger };
  }

  /** Cuts the proxy and waits until the plane noticed that both its LISTEN connections are gone. */
  async function cutListening(proxy: TcpProxy, logger: RecordingLogger): Promise<void> {
    proxy.cut();
    await eventually(
      () => expect(logger.lines.filter((l) => /LISTEN connection lost/.test(String(l.msg)))).toHaveLength(2),
      SOON,
    );
  }

  it('announces revocations, pauses and events written while its LISTEN connection was down, once it is back', async () => {
    const writer = plane();
    const { plane: cut, proxy, logger } = await behindProxy();
    const revoked: string[] = [];
    const changes: [string, boolean][] = [];
    const events: TaskEvent[] = [];
    await cut.revocations.onRevoke((r) => revoked.push(...r.map((x) => x.uuid)));
    await cut.pauses.onChange((queue, paused) => changes.push([queue, paused]));
    await cut.events.subscribe((e) => events.push(e));
    await writer.revocations.revoke(['before']);
    await eventually(() => expect(revoked).toEqual(['before']), SOON);

    await cutListening(proxy, logger);
    await writer.revocations.revoke(['during_1', 'during_2'], { reason: 'outage' });
    await writer.pauses.pause('stopped');
    await writer.events.publish([event('p', 1), event('p', 2)]);
    proxy.resume();

    await eventually(() => {
      expect(revoked).toEqual(['before', 'during_1', 'during_2']);
      expect(changes).toEqual([['stopped', true]]);
      expect(events).toEqual([event('p', 1), event('p', 2)]);
    }, SOON);
    // Live again: a later revocation is announced as it happens.
    await writer.revocations.revoke(['after']);
    await eventually(() => expect(revoked).toEqual(['before', 'during_1', 'during_2', 'after']), SOON);
    expect(logger.lines.map((l) => String(l.msg))).toContain('PostgreSQL LISTEN connection restored');
  });

  it('listens on one connection for revocations and pauses, and on a second only once events are followed', async () => {
    const p = plane();
    const checkedOut = () => p.pool.totalCount - p.pool.idleCount;
    await p.revocations.onRevoke(() => {});
    await p.pauses.onChange(() => {});
    await p.revocations.onRevoke(() => {});
    await eventually(() => expect(checkedOut()).toBe(1), SOON);
    await p.events.subscribe(() => {});
    await p.events.subscribe(() => {});
    await eventually(() => expect(checkedOut()).toBe(2), SOON);
  });

  it('delivers events published at once by many processes to a follower, each once and in each publisher’s order', async () => {
    const publishers = ['a', 'b', 'c', 'd'].map((name) => ({ name, plane: plane() }));
    const follower = plane();
    const seen: TaskEvent[] = [];
    await follower.events.subscribe((e) => seen.push(e));
    await Promise.all(
      publishers.map(async ({ name, plane: p }) => {
        for (let batch = 0; batch < 25; batch++)
          await p.events.publish([0, 1, 2, 3].map((i) => event(name, batch * 4 + i)));
      }),
    );
    await eventually(() => expect(seen).toHaveLength(400), SOON);
    for (const { name } of publishers) {
      const mine = seen.filter((e) => e.taskName === name).map((e) => e.at);
      expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
  });

  it('keeps at most maxEvents events in its table', async () => {
    const p = plane({ maxEvents: 5 });
    for (let batch = 0; batch < 3; batch++)
      await p.events.publish([1, 2, 3, 4].map((n) => event('t', batch * 4 + n)));
    const { rows } = await db.raw.query(`SELECT event FROM "${db.schema}".machinery_task_events ORDER BY id`);
    expect(rows.map((r: { event: TaskEvent }) => r.event.at)).toEqual([8, 9, 10, 11, 12]);
  });

  it('stores an event whose error holds a NUL character (jsonb refuses it), replacing the character', async () => {
    const a = plane();
    const b = plane();
    const seen: TaskEvent[] = [];
    await b.events.subscribe((e) => seen.push(e));
    await a.events.publish([{ ...event('nul', 1), type: 'failed', error: 'bad\0byte' }]);
    await eventually(() => expect(seen.map((e) => e.error)).toEqual(['bad\uFFFDbyte']), SOON);
  });

  it('stores a revocation whose reason holds a NUL character, replacing the character', async () => {
    const p = plane();
    await p.revocations.revoke(['nul'], { reason: 'bad\0byte' });
    expect((await p.revocations.revoked(['nul']))[0]?.reason).toBe('bad\uFFFDbyte');
  });

  it('keeps progress without data apart from progress null', async () => {
    const p = plane();
    await p.progress.set('none', undefined, 60_000);
    await p.progress.set('null', null, 60_000);
    expect(await p.progress.get('none')).toEqual({ data: undefined, at: expect.any(Number) });
    expect((await p.progress.get('null'))?.data).toBeNull();
  });

  it('creates its five tables in the given schema with the given prefix', async () => {
    const p = plane({ tablePrefix: 'ctl_' });
    await p.migrate();
    const { rows } = await db.raw.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [
      db.schema,
    ]);
    expect(rows.map((r: { tablename: string }) => r.tablename)).toEqual([
      'ctl_paused_queues',
      'ctl_revocations',
      'ctl_task_events',
      'ctl_task_progress',
      'ctl_workers',
    ]);
  });

  it('refuses bad options and bad input with ERR_INVALID_ARGUMENT saying what to change', async () => {
    const invalid = (err: unknown, message: RegExp) => {
      expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).toMatch(message);
    };
    invalid(
      thrownBy(() => new PostgresControlPlane({ maxEvents: 0 })),
      /maxEvents must be a whole number ≥ 1, got 0/,
    );
    invalid(
      thrownBy(() => new PostgresControlPlane({ tablePrefix: 'x'.repeat(51) })),
      /tablePrefix must be .* at most 50 bytes/,
    );
    invalid(
      thrownBy(() => new PostgresControlPlane({ schema: '' })),
      /schema must be 1 to 63 bytes/,
    );
    const p = plane();
    invalid(await rejectionOf(p.pauses.pause('q'.repeat(8000))), /Use a shorter queue name/);
    invalid(await rejectionOf(p.pauses.pause('')), /queue name must be a non-empty string/);
    invalid(await rejectionOf(p.revocations.revoke(['a\0b'])), /holds a NUL character/);
    invalid(
      await rejectionOf(p.revocations.revoke(['x'], { ttlMs: Number.NaN })),
      /ttlMs must be a finite number/,
    );
    invalid(await rejectionOf(p.progress.set('t', { n: 1n }, 1000)), /Task progress must be a JSON value/);
  });

  it('fails with ERR_CONNECTION naming the server, password redacted, when the database is unreachable', async () => {
    const port = await freePort();
    const p = plane({
      url: `postgres://machinery:${SECRET}@127.0.0.1:${port}/nowhere`,
      logger: silentLogger,
    });
    const attempts = [
      () => p.revocations.revoked(['x']),
      () => p.revocations.onRevoke(() => {}),
      () => p.events.subscribe(() => {}),
    ];
    for (const attempt of attempts) {
      const err = await rejectionOf(attempt());
      expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
      expect((err as Error).message).toMatch(
        new RegExp(
          `Creating the control plane tables in schema "${db.schema}" failed on PostgreSQL at postgres://machinery:\\*\\*\\*@127\\.0\\.0\\.1:${port}/nowhere: .*ECONNREFUSED`,
        ),
      );
      expect(exposedText(err)).not.toContain(SECRET);
    }
  });

  it('close() ends its own pool only; afterwards every call rejects with ERR_CLOSED', async () => {
    const own = new PostgresControlPlane({ url: POSTGRES_URL, schema: db.schema });
    await own.events.subscribe(() => {});
    await own.close();
    await own.close();
    expect(own.pool.ended).toBe(true);
    const closed = await rejectionOf(own.revocations.revoked(['x']));
    expect(isMachineryError(closed, 'ERR_CLOSED')).toBe(true);

    const given = new PostgresControlPlane({ pool: db.raw, schema: db.schema });
    await given.revocations.onRevoke(() => {});
    await given.close();
    expect(db.raw.ended).toBe(false);
    expect(await db.raw.query('SELECT 1 AS one')).toMatchObject({ rows: [{ one: 1 }] });
  });
});
