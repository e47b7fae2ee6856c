import { type Delivery, signature } from '@machinery/core';
import {
  dropAllPostgresConnections,
  injectRawTask,
  POSTGRES_URL,
  schemaPerTest,
} from '@machinery/test-services';
import { eventually } from '@machinery/testing';
import { expect, it } from 'vitest';
import { PostgresBroker, type PostgresBrokerOptions } from '../src/index.js';

const db = schemaPerTest();
const { raw, closer } = db;

function broker(options: PostgresBrokerOptions = {}): PostgresBroker {
  return closer.add(new PostgresBroker({ url: POSTGRES_URL, schema: db.schema, ...options }));
}

interface Collected {
  deliveries: Delivery[];
  at: number[];
  /** Each delivery's acknowledgement; one sent while connections are cut may reject, and is awaited or ignored by the test. */
  acks: Promise<boolean | 'failed'>[];
}

async function collect(b: PostgresBroker): Promise<Collected> {
  const out: Collected = { deliveries: [], at: [], acks: [] };
  const consumer = await b.consume(
    b.defaultQueue,
    (d) => {
      out.deliveries.push(d);
      out.at.push(Date.now());
      out.acks.push(d.ack().catch(() => 'failed' as const));
    },
    { concurrency: 1, prefetch: 0 },
  );
  closer.add({ close: () => consumer.stop() });
  return out;
}

const task = (name: string, eta?: Date) => signature(name, [], { headers: {}, ...(eta ? { eta } : {}) });
// Far longer than any eventually() below: a delivery within it came from a NOTIFY, not the poll.
const NO_POLL = { pollIntervalMs: 600_000 };

it('a publish from another process wakes an idle consumer at once (NOTIFY), without waiting for the poll', async () => {
  const got = await collect(broker(NO_POLL));
  await broker().publish(task('notified'));
  await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['notified']));
});

it('a row written without NOTIFY is found by the poll', async () => {
  const got = await collect(broker({ pollIntervalMs: 200 }));
  await injectRawTask(
    raw,
    db.namespace,
    'machinery_tasks',
    '{"UUID":"task_polled","Name":"polled"}',
    (pool, schema) => new PostgresBroker({ pool, schema }),
  );
  await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['polled']));
});

it('a delayed task published elsewhere is delivered at its ETA, not before, without polling', async () => {
  const got = await collect(broker(NO_POLL));
  const eta = new Date(Date.now() + 700);
  await broker().publish(task('timed', eta));
  await eventually(() => expect(got.deliveries).toHaveLength(1), { timeoutMs: 5000 });
  expect(got.at[0] as number).toBeGreaterThanOrEqual(eta.getTime() - 50);
});

it('consumers resume after every connection was cut, the LISTEN connection included', async () => {
  const got = await collect(broker(NO_POLL));
  const producer = broker();
  await producer.publish(task('before'));
  await eventually(() => expect(got.deliveries).toHaveLength(1));
  // The first task is done before the cut; only what comes after it is under test.
  expect(await got.acks[0]).toBe(true);
  await dropAllPostgresConnections(raw);
  await eventually(() => producer.publish(task('after')), { timeoutMs: 10_000, intervalMs: 100 });
  await eventually(() => expect(got.deliveries.map((d) => d.signature.name)).toEqual(['before', 'after']), {
    timeoutMs: 15_000,
  });
});
