import { type Delivery, isMachineryError, signature } from '@machinery/core';
import { POSTGRES_URL, schemaPerTest } from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import { PostgresBroker, type PostgresBrokerOptions } from '../src/index.js';

const db = schemaPerTest();
const { raw, closer } = db;

function broker(options: PostgresBrokerOptions = {}): PostgresBroker {
  return closer.add(new PostgresBroker({ url: POSTGRES_URL, schema: db.schema, ...options }));
}

it('creates its schema and table on first use, from many brokers at once', async () => {
  const brokers = Array.from({ length: 6 }, () => broker());
  await Promise.all(brokers.map((b) => b.migrate()));
  await Promise.all(brokers.map((b) => b.migrate()));
  const { rows } = await raw.query(
    'SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND tablename = $2',
    [db.schema, 'machinery_tasks'],
  );
  // The primary key and three indexes.
  expect(rows[0]?.n).toBe(4);
});

it('brokers on different tables never see each other’s tasks or dead letters', async () => {
  const a = broker({ table: 'jobs_a' });
  const b = broker({ table: 'jobs "b"' });
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency: 1, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  await a.publish(signature('for_a', [], { headers: {} }));
  await b.publish(signature('for_b', [], { headers: {} }));
  await eventually(() => expect(got.map((d) => d.signature.name)).toEqual(['for_b']));
  await (got[0] as Delivery).nack({ requeue: false, reason: 'kept apart' });
  expect((await a.pendingTasks()).map((s) => s.name)).toEqual(['for_a']);
  expect(await a.deadLetters()).toHaveLength(0);
  const dead = await b.deadLetters();
  expect(dead.map((d) => [d.reason, d.queue])).toEqual([['kept apart', 'machinery_tasks']]);
  expect(dead[0]?.at).toBeInstanceOf(Date);
});

it('refuses invalid options with ERR_INVALID_ARGUMENT', () => {
  for (const options of [
    { leaseMs: 10 },
    { batchSize: 0 },
    { batchSize: 5000 },
    { table: '' },
    { schema: 'x'.repeat(64) },
    { defaultQueue: '' },
    { pollIntervalMs: 1.5 },
  ] as PostgresBrokerOptions[]) {
    let caught: unknown;
    try {
      new PostgresBroker({ ...options, url: POSTGRES_URL });
    } catch (err) {
      caught = err;
    }
    expect(isMachineryError(caught, 'ERR_INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true);
  }
});

it('fails with ERR_CONNECTION naming the server, without the password, when the database is unreachable', async () => {
  const b = broker({
    url: 'postgres://machinery:s3cr3t-pw@127.0.0.1:1/none',
    clientOptions: { connectionTimeoutMillis: 2000 },
  });
  let caught: unknown;
  try {
    await b.publish(signature('nowhere', [], { headers: {} }));
  } catch (err) {
    caught = err;
  }
  expect(isMachineryError(caught, 'ERR_CONNECTION')).toBe(true);
  const message = (caught as Error).message;
  expect(message).toContain('127.0.0.1:1');
  expect(message).not.toContain('s3cr3t-pw');
});
