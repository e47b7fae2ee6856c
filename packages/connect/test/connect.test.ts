import { randomUUID } from 'node:crypto';
import { defineTask, isMachineryError, Server } from '@machinery/core';
import {
  adminConnection,
  closeAdmin,
  deleteQueues,
  freePort,
  POSTGRES_URL,
  rawPostgresPool,
  recordingLogger,
} from '@machinery/test-services';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConnectOptions, connect } from '../src/index.js';

const REDIS = 'redis://127.0.0.1:6379';
const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const SQS = 'sqs://test:test@127.0.0.1:4566?region=us-east-1';
const MEMCACHE = 'memcache://127.0.0.1:11211';
// postgresql:// is the same adapter under the other scheme libpq accepts.
const POSTGRESQL = POSTGRES_URL.replace(/^postgres:/, 'postgresql:');

const add = defineTask('add', (a: number, b: number) => a + b);
const amqpQueues: string[] = [];

afterAll(async () => {
  await deleteQueues(amqpQueues);
  await closeAdmin();
});

function uniqueQueue(): string {
  return `connect_${randomUUID().slice(0, 8)}`;
}

/** Connects, runs one task through a worker on a fresh queue and returns what came back. */
async function roundTrip(options: Omit<ConnectOptions, 'defaultQueue'>): Promise<unknown> {
  const defaultQueue = uniqueQueue();
  if (options.broker.startsWith('amqp')) amqpQueues.push(defaultQueue);
  const server = new Server(await connect({ ...options, defaultQueue }));
  try {
    server.register(add);
    await server.worker({ handleSignals: false }).start();
    const result = await server.send(add.signature(20, 22));
    return await result.get({ timeoutMs: 20_000 });
  } finally {
    await server.close();
  }
}

/** The rejection of `promise`, failing the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but it resolved');
}

describe('connect: every scheme composes a working Server against the real service', () => {
  const combos: [string, ConnectOptions][] = [
    ['memory', { broker: 'memory://' }],
    ['Redis broker, default backend and lock', { broker: REDIS }],
    ['AMQP broker, default (AMQP) backend', { broker: AMQP }],
    ['SQS broker, Memcache backend', { broker: SQS, backend: MEMCACHE }],
    ['SQS broker, Redis backend, Redis lock', { broker: SQS, backend: REDIS, lock: REDIS }],
    ['PostgreSQL broker, default (same database) backend', { broker: POSTGRES_URL }],
    ['Redis broker, PostgreSQL backend (postgresql://)', { broker: REDIS, backend: POSTGRESQL }],
  ];
  for (const [name, options] of combos) {
    it(`runs a task: ${name}`, async () => {
      expect(await roundTrip(options)).toBe(42);
    });
  }

  it('declares the AMQP exchange it was given', async () => {
    const exchange = `connect_x_${randomUUID().slice(0, 8)}`;
    expect(
      await roundTrip({ broker: AMQP, backend: REDIS, amqp: { exchange, exchangeType: 'direct' } }),
    ).toBe(42);
    const ch = await (await adminConnection()).createChannel();
    try {
      await expect(ch.checkExchange(exchange)).resolves.toBeDefined();
      await ch.deleteExchange(exchange);
    } finally {
      await ch.close().catch(() => {});
    }
  });
});

describe('connect: defaults', () => {
  it('stores results on the broker server when no backend is given (Redis and AMQP)', async () => {
    const redis = await connect({ broker: REDIS });
    expect(redis.urls).toEqual({ broker: REDIS, backend: REDIS, lock: REDIS, control: REDIS });
    await redis.close();
    const amqp = await connect({ broker: AMQP });
    // toMatchObject: the control plane (control-plane.test.ts) is not what this test is about.
    expect(amqp.urls).toMatchObject({
      broker: 'amqp://guest:***@127.0.0.1:5672',
      backend: 'amqp://guest:***@127.0.0.1:5672',
      lock: 'memory://',
    });
    await amqp.close();
  });

  it('stores results in the same PostgreSQL database when the broker is PostgreSQL', async () => {
    const c = await connect({ broker: POSTGRES_URL });
    try {
      expect(c.urls).toMatchObject({
        broker: 'postgres://machinery:***@127.0.0.1:5432/machinery_test',
        backend: 'postgres://machinery:***@127.0.0.1:5432/machinery_test',
        lock: 'memory://',
      });
      expect(c.broker.constructor.name).toBe('PostgresBroker');
      expect(c.backend.constructor.name).toBe('PostgresBackend');
    } finally {
      await c.close();
    }
    // Both adapters work in the database of the URL (the check at connect time creates missing tables).
    const raw = rawPostgresPool();
    try {
      const { rows } = await raw.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('machinery_tasks', 'machinery_results') ORDER BY 1",
      );
      expect(rows.map((r: { tablename: string }) => r.tablename)).toEqual([
        'machinery_results',
        'machinery_tasks',
      ]);
    } finally {
      await raw.end();
    }
  });

  it('takes the lock from a Redis backend behind another broker', async () => {
    const c = await connect({ broker: SQS, backend: REDIS });
    expect(c.urls.lock).toBe(REDIS);
    await c.close();
  });

  it('refuses an SQS broker without a backend instead of dropping results in memory', async () => {
    const err = await rejectionOf(connect({ broker: SQS }));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toBe(
      'broker URL sqs://test:***@127.0.0.1:4566?region=us-east-1 cannot store results and backend is not set: set backend to redis://, memcache://, postgres:// or amqp://.',
    );
  });
});

describe('connect: unsupported URLs', () => {
  it('names the supported broker schemes in one line and masks the password', async () => {
    const err = await rejectionOf(connect({ broker: 'kafka://user:secret@host:9092' }));
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toBe(
      'broker URL kafka://user:***@host:9092 is not a supported broker URL: use memory://, redis://, rediss://, amqp://, amqps://, https://sqs…, sqs://, postgres://, postgresql://.',
    );
  });

  it('lists only the schemes a lock supports for a lock URL', async () => {
    const err = await rejectionOf(connect({ broker: 'memory://', lock: MEMCACHE }));
    expect(err.message).toBe(
      'lock URL memcache://127.0.0.1:11211 is not a supported lock URL: use memory://, redis://, rediss://.',
    );
  });

  it('lists the backend schemes for a backend URL, and https:// only for SQS hosts', async () => {
    const backend = await rejectionOf(
      connect({ broker: 'memory://', backend: 'https://sqs.us-east-1.amazonaws.com/1' }),
    );
    expect(backend.message).toMatch(
      /is not a supported result backend URL: use memory:\/\/, .*memcache:\/\/, postgres:\/\/, postgresql:\/\/\.$/,
    );
    const broker = await rejectionOf(connect({ broker: 'https://example.com/queue' }));
    expect(broker.message).toMatch(/^broker URL https:\/\/example\.com\/queue is not a supported broker URL/);
  });
});

describe('connect: a service that is down or refuses is an error at connect time', () => {
  const probeTimeoutMs = 3_000;

  it('rejects when the Redis broker is down, naming it', async () => {
    const port = await freePort();
    const err = await rejectionOf(connect({ broker: `redis://127.0.0.1:${port}`, probeTimeoutMs }));
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(new RegExp(`^broker URL redis://127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));
  });

  it('rejects when the Memcache backend is down, naming it', async () => {
    const port = await freePort();
    const err = await rejectionOf(
      connect({ broker: REDIS, backend: `memcache://127.0.0.1:${port}`, probeTimeoutMs }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(
      new RegExp(`^backend URL memcache://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`),
    );
  });

  it('rejects when the SQS endpoint is down', async () => {
    const port = await freePort();
    const err = await rejectionOf(
      connect({
        broker: `sqs://test:test@127.0.0.1:${port}?region=us-east-1`,
        backend: REDIS,
        probeTimeoutMs,
      }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(
      /^broker URL sqs:\/\/test:\*\*\*@127\.0\.0\.1:\d+\?region=us-east-1 .*ECONNREFUSED/,
    );
  });

  it('rejects when PostgreSQL is down, naming it without the password', async () => {
    const port = await freePort();
    const err = await rejectionOf(
      connect({ broker: `postgres://machinery:s3cr3t-pw@127.0.0.1:${port}/machinery_test`, probeTimeoutMs }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(
      new RegExp(
        `^broker URL postgres://machinery:\\*\\*\\*@127\\.0\\.0\\.1:${port}/machinery_test .*ECONNREFUSED`,
      ),
    );
    expect(err.message).not.toContain('s3cr3t-pw');
  });

  it('rejects a login PostgreSQL refuses with the server’s reason, without the password', async () => {
    // An unknown role: refused whatever the server's pg_hba.conf method (trust on loopback included).
    const err = await rejectionOf(
      connect({
        broker: REDIS,
        backend: 'postgresql://nobody_here:wrong-secret@127.0.0.1:5432/machinery_test',
        probeTimeoutMs,
      }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(
      /^backend URL postgresql:\/\/nobody_here:\*\*\*@127\.0\.0\.1:5432\/machinery_test is unreachable: .*nobody_here.*SQLSTATE 28/,
    );
    expect(err.message).not.toContain('wrong-secret');
  });

  it('rejects a refused AMQP password with RabbitMQ’s reason, without the password', async () => {
    const err = await rejectionOf(
      connect({ broker: 'amqp://guest:wrong-secret@127.0.0.1:5672', probeTimeoutMs }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(/^broker URL amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672 .*ACCESS.REFUSED/);
    expect(err.message).not.toContain('wrong-secret');
  });

  it('rejects an unknown AMQP vhost', async () => {
    const err = await rejectionOf(
      connect({ broker: 'amqp://guest:guest@127.0.0.1:5672/no-such-vhost', backend: REDIS, probeTimeoutMs }),
    );
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(/^broker URL amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672\/no-such-vhost /);
  });

  it('keeps the adapters’ reconnect warnings at debug while checking, with their bindings, and reports the last one', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const err = await rejectionOf(connect({ broker: `redis://127.0.0.1:${port}`, logger, probeTimeoutMs }));
    expect(err.message).toContain('ECONNREFUSED');
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    const debug = logger.lines.filter((l) => l.level === 'debug');
    expect(debug.length).toBeGreaterThan(0);
    expect(debug.some((l) => Object.keys(l.bindings).length > 0)).toBe(true);
  });

  it('does not check the services with probe: false', async () => {
    const port = await freePort();
    const c = await connect({ broker: 'memory://', backend: `memcache://127.0.0.1:${port}`, probe: false });
    expect(c.urls.backend).toBe(`memcache://127.0.0.1:${port}`);
    await c.close();
  });
});
