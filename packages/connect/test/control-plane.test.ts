import { randomUUID } from 'node:crypto';
import { defineTask, isMachineryError, Server } from '@machinery/core';
import {
  AMQP_URL,
  freePort,
  POSTGRES_URL,
  REDIS_URL,
  recordingLogger,
  rejectionOf,
} from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { describe, expect, it } from 'vitest';
import { exportedClass, missingExport } from '../src/exported-class.js';
import { type ConnectOptions, connect } from '../src/index.js';

const REDIS = REDIS_URL;

/** Each control plane `connect()` builds: the options that select it and the class it must be. */
const CONTROL_PLANES: { name: string; options: ConnectOptions; className: string }[] = [
  {
    name: 'memory, the default beside a memory:// backend',
    options: { broker: 'memory://' },
    className: 'MemoryControlPlane',
  },
  {
    name: 'Redis, the default beside a Redis backend',
    options: { broker: REDIS },
    className: 'RedisControlPlane',
  },
  {
    name: 'PostgreSQL, the default beside a PostgreSQL backend',
    options: { broker: 'memory://', backend: POSTGRES_URL },
    className: 'PostgresControlPlane',
  },
  {
    name: 'Memcache, the default beside a Memcache backend',
    options: { broker: 'memory://', backend: 'memcache://127.0.0.1:11211' },
    className: 'MemcacheControlPlane',
  },
  {
    name: 'RabbitMQ, the default beside an AMQP backend',
    options: { broker: 'memory://', backend: AMQP_URL },
    className: 'AmqpControlPlane',
  },
  {
    name: 'Redis, chosen by control beside another backend',
    options: { broker: 'memory://', backend: POSTGRES_URL, control: REDIS },
    className: 'RedisControlPlane',
  },
];

/** Sleeps `ms` unless its run is aborted (revoked), then fails with the abort reason. */
const sleepy = defineTask('connect_sleepy', function (ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    this.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(this.signal.reason);
    });
  });
});

describe('connect: the control plane', () => {
  for (const { name, options, className } of CONTROL_PLANES) {
    it(`${name}: a Server built from the connection registers its worker, pauses and revokes through it`, async () => {
      const queue = `connect_ctl_${randomUUID().slice(0, 8)}`;
      const connection = await connect({ ...options, defaultQueue: queue });
      const control = connection.control;
      expect(control?.constructor.name).toBe(className);
      if (control === undefined) return;
      const server = new Server({ ...connection, controlOptions: { heartbeatMs: 200 } });
      const ours = async () => (await control.workers.list()).filter((w) => w.queue === queue);
      try {
        server.register(sleepy);
        await server.worker({ handleSignals: false, concurrency: 1 }).start();
        await eventually(async () => expect(await ours()).toHaveLength(1), { timeoutMs: 10_000 });

        const result = await server.send(sleepy.signature(60_000));
        await eventually(async () => expect((await ours())[0]?.running).toEqual([result.taskUUID]), {
          timeoutMs: 10_000,
        });
        await server.revoke(result.taskUUID, { reason: 'stopped by the test' });
        const state = await result.wait({ timeoutMs: 10_000 });
        expect(state.state).toBe('FAILURE');
        expect(state.error).toContain('was revoked: stopped by the test');

        await server.pause(queue);
        expect(await control.pauses.paused()).toContain(queue);
        await eventually(async () => expect((await ours())[0]?.paused).toBe(true), { timeoutMs: 10_000 });
        await server.resume(queue);
        await eventually(async () => expect((await ours())[0]?.paused).toBe(false), { timeoutMs: 10_000 });
      } finally {
        await server.close();
      }
      // The Server closed the control plane with the adapters.
      expect(isMachineryError(await rejectionOf(control.pauses.paused()), 'ERR_CLOSED')).toBe(true);
    });
  }

  it('lives on the backend’s server by default, and elsewhere when control names another URL', async () => {
    const c = await connect({ broker: 'memory://', control: REDIS });
    try {
      expect(c.urls).toEqual({
        broker: 'memory://',
        backend: 'memory://',
        lock: 'memory://',
        control: REDIS,
      });
      expect(c.control?.constructor.name).toBe('RedisControlPlane');
    } finally {
      await c.close();
    }
  });

  it('warns when a network broker’s workers would have an in-process control plane', async () => {
    const logger = recordingLogger();
    const c = await connect({ broker: REDIS, control: 'memory://', logger });
    await c.close();
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      expect.stringMatching(/^the control plane is in this process \(memory:\/\/\) .* set control$/),
    ]);
  });

  it('is left out with control: false, and the Server then says what revoking needs', async () => {
    const c = await connect({ broker: 'memory://', control: false });
    expect('control' in c).toBe(false);
    expect('control' in c.urls).toBe(false);
    const server = new Server(c);
    try {
      expect(server.control).toBeUndefined();
      expect(() => server.revoke('task_x')).toThrow(/A control plane is needed to revoke tasks/);
    } finally {
      await server.close();
    }
  });

  it('refuses a scheme that has no control plane in one line listing those that have', async () => {
    const err = (await rejectionOf(
      connect({ broker: 'memory://', control: 'sqs://user:secret@h:1' }),
    )) as Error;
    expect(isMachineryError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toBe(
      'control URL sqs://user:***@h:1 is not a supported control plane URL: use memory://, redis://, rediss://, amqp://, amqps://, memcache://, postgres://, postgresql://.',
    );
  });

  it('rejects at connect time when the control plane’s server is down, naming it', async () => {
    const port = await freePort();
    const err = (await rejectionOf(
      connect({ broker: 'memory://', control: `redis://127.0.0.1:${port}`, probeTimeoutMs: 3_000 }),
    )) as Error;
    expect(isMachineryError(err, 'ERR_CONNECTION')).toBe(true);
    expect(err.message).toMatch(
      new RegExp(`^control URL redis://127\\.0\\.0\\.1:${port} (did not answer within 3 s|is unreachable): `),
    );
  });

  it('names the package to upgrade when the installed one has no control plane class', () => {
    const mod = { RedisBackend: class {} };
    expect(exportedClass(mod, 'RedisBackend')).toBe(mod.RedisBackend);
    expect(exportedClass(mod, 'PostgresControlPlane')).toBeUndefined();
    expect(
      missingExport('PostgresControlPlane', '@machinery/backend-postgres', 'CONTROL_URL=postgres://h/db')
        .message,
    ).toBe(
      'CONTROL_URL=postgres://h/db needs PostgresControlPlane from @machinery/backend-postgres, which the installed version does not export: npm install @machinery/backend-postgres@latest',
    );
  });
});
