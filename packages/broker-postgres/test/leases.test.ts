import { type Delivery, defineTask, Server, signature, silentLogger } from '@machinery/core';
import { POSTGRES_URL, schemaPerTest } from '@machinery/test-services';
import { eventually, observeFor } from '@machinery/testing';
import { expect, it } from 'vitest';
import { PostgresBroker, type PostgresBrokerOptions } from '../src/index.js';

const db = schemaPerTest();
const { raw, closer } = db;

function broker(options: PostgresBrokerOptions = {}): PostgresBroker {
  return closer.add(new PostgresBroker({ url: POSTGRES_URL, schema: db.schema, ...options }));
}

async function collect(b: PostgresBroker, concurrency = 1): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency, prefetch: 0 });
  closer.add({ close: () => consumer.stop() });
  return got;
}

const task = (name: string) => signature(name, [], { headers: {} });
const table = () => `"${db.schema}".machinery_tasks`;

/** The holder stalls past its deadline (a long GC pause, a frozen VM): its lease is due now. */
async function expireLease(token: string): Promise<void> {
  await raw.query(`UPDATE ${table()} SET visible_at = now() - interval '1 second' WHERE lease_token = $1`, [
    token,
  ]);
}

it('fences a stale worker: once its lease expired and another worker took the task, its ack is refused', async () => {
  // A long lease so that the stale worker does not renew during the test.
  const stale = broker({ leaseMs: 60_000 });
  const first = await collect(stale);
  await stale.publish(task('fenced'));
  await eventually(() => expect(first).toHaveLength(1));
  const d1 = first[0] as Delivery;
  await expireLease(d1.token);

  const fresh = broker({ leaseMs: 60_000 });
  const second = await collect(fresh);
  await eventually(() => expect(second).toHaveLength(1));
  const d2 = second[0] as Delivery;
  expect(d2.signature.uuid).toBe(d1.signature.uuid);
  expect(d2.token).not.toBe(d1.token);
  expect(d2.attempt).toBe(2);
  expect(d2.redelivered).toBe(true);

  expect(await d1.extendLease?.(1000)).toBe(false);
  expect(await d1.nack({ requeue: false, reason: 'stale' })).toBe(false);
  expect(await d2.ack()).toBe(true);
  expect(await broker().deadLetters()).toHaveLength(0);
});

it('a stale ack is refused in a batch while the others in it succeed', async () => {
  const a = broker({ leaseMs: 60_000 });
  const got = await collect(a, 3);
  await a.publishMany([task('one'), task('two'), task('three')]);
  await eventually(() => expect(got).toHaveLength(3));
  const [d1, d2, d3] = got as [Delivery, Delivery, Delivery];
  await expireLease(d2.token);
  const b = broker({ leaseMs: 60_000 });
  const taken = await collect(b);
  await eventually(() => expect(taken).toHaveLength(1));
  // One event-loop turn: the three acknowledgements go in one DELETE.
  expect(await Promise.all([d1.ack(), d2.ack(), d3.ack()])).toEqual([true, false, true]);
  expect(await (taken[0] as Delivery).ack()).toBe(true);
});

it('renews a held lease while the consumer runs: no other worker gets the task', async () => {
  const holder = broker({ leaseMs: 300 });
  const held = await collect(holder);
  await holder.publish(task('long'));
  await eventually(() => expect(held).toHaveLength(1));
  const other = await collect(broker({ leaseMs: 300 }));
  await observeFor(1500);
  expect(other).toHaveLength(0);
  expect(await (held[0] as Delivery).ack()).toBe(true);
});

it('keeps renewing unsettled deliveries after the consumer is stopped, until they are settled', async () => {
  const holder = broker({ leaseMs: 300 });
  const held: Delivery[] = [];
  const consumer = await holder.consume(holder.defaultQueue, (d) => held.push(d), {
    concurrency: 1,
    prefetch: 0,
  });
  await holder.publish(task('finishing'));
  await eventually(() => expect(held).toHaveLength(1));
  await consumer.stop();
  const other = await collect(broker({ leaseMs: 300 }));
  await observeFor(1500);
  expect(other).toHaveLength(0);
  expect(await (held[0] as Delivery).ack()).toBe(true);
});

it('extendLease never shortens a lease, and a lease extended past the renewal holds', async () => {
  const holder = broker({ leaseMs: 60_000 });
  const held = await collect(holder);
  await holder.publish(task('extended'));
  await eventually(() => expect(held).toHaveLength(1));
  const d = held[0] as Delivery;
  const deadline = async () =>
    (await raw.query(`SELECT visible_at FROM ${table()} WHERE lease_token = $1`, [d.token])).rows[0]
      ?.visible_at as Date;
  const before = await deadline();
  expect(await d.extendLease?.(1000)).toBe(true);
  expect((await deadline()).getTime()).toBe(before.getTime());
  expect(await d.extendLease?.(120_000)).toBe(true);
  expect((await deadline()).getTime()).toBeGreaterThan(before.getTime());
  await d.ack();
});

it('counts delivery attempts across delayed requeues and expired leases', async () => {
  const a = broker({ leaseMs: 60_000 });
  const got = await collect(a);
  await a.publish(task('counted'));
  await eventually(() => expect(got).toHaveLength(1));
  expect((got[0] as Delivery).attempt).toBe(1);
  await (got[0] as Delivery).nack({ requeue: true, delayMs: 50 });
  await eventually(() => expect(got).toHaveLength(2));
  expect((got[1] as Delivery).attempt).toBe(2);
  await expireLease((got[1] as Delivery).token);
  const again = await collect(broker({ leaseMs: 60_000 }));
  await eventually(() => expect(again).toHaveLength(1));
  expect((again[0] as Delivery).attempt).toBe(3);
  expect(await (again[0] as Delivery).ack()).toBe(true);
});

it('concurrent consumers never take the same task', async () => {
  const producer = broker();
  const total = 400;
  await producer.publishMany(Array.from({ length: total }, (_, i) => task(`c${i}`)));
  const seen = new Map<string, number>();
  const tokens = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const b = broker({ batchSize: 7 });
    const consumer = await b.consume(
      b.defaultQueue,
      (d) => {
        seen.set(d.signature.uuid, (seen.get(d.signature.uuid) ?? 0) + 1);
        tokens.add(d.token);
        // Settled a little later, so claims of the four consumers overlap.
        setTimeout(() => void d.ack(), 2);
      },
      { concurrency: 10, prefetch: 5 },
    );
    closer.add({ close: () => consumer.stop() });
  }
  await eventually(() => expect(seen.size).toBe(total), { timeoutMs: 20_000 });
  await eventually(async () => expect((await raw.query(`SELECT 1 FROM ${table()}`)).rowCount).toBe(0));
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  expect(tokens.size).toBe(total);
});

it('pendingTasks lists only waiting tasks: not leased ones, not delayed ones', async () => {
  const b = broker({ leaseMs: 60_000 });
  await b.publish(task('first'));
  const got = await collect(b);
  await eventually(() => expect(got).toHaveLength(1));
  await b.publishMany([task('second'), task('third')]);
  await b.publish(signature('later', [], { headers: {}, eta: new Date(Date.now() + 60_000) }));
  expect((await b.pendingTasks()).map((s) => s.name)).toEqual(['second', 'third']);
  expect((await b.delayedTasks()).map((s) => s.name)).toEqual(['later']);
  await (got[0] as Delivery).nack({ requeue: true, delayMs: 30_000 });
  expect((await b.delayedTasks()).map((s) => s.name)).toEqual(['first', 'later']);
  expect(await b.pendingTasks(b.defaultQueue, 1)).toHaveLength(1);
});

it('stop() ends deliveries at once and leaves the rest for other consumers', async () => {
  const b = broker();
  const got: Delivery[] = [];
  const consumer = await b.consume(b.defaultQueue, (d) => got.push(d), { concurrency: 2, prefetch: 0 });
  await b.publishMany([task('a'), task('b'), task('c'), task('d')]);
  await eventually(() => expect(got).toHaveLength(2));
  await consumer.stop();
  await Promise.all(got.map((d) => d.ack()));
  await observeFor(300);
  expect(got).toHaveLength(2);
  expect(await b.pendingTasks()).toHaveLength(2);
  const other = await collect(broker(), 5);
  await eventually(() => expect(other.map((d) => d.signature.name)).toEqual(['c', 'd']));
  // Never handed out before: the first attempt.
  expect(other.map((d) => d.attempt)).toEqual([1, 1]);
});

it('close() ends the pool it created, but not a pool it was given, and refuses further work', async () => {
  const own = new PostgresBroker({ url: POSTGRES_URL, schema: db.schema });
  await own.consume(own.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
  await own.close();
  expect(own.pool.ended).toBe(true);
  await own.close();
  await expect(own.publish(task('x'))).rejects.toMatchObject({ code: 'ERR_CLOSED' });

  const given = new PostgresBroker({ pool: raw, schema: db.schema });
  await given.consume(given.defaultQueue, () => {}, { concurrency: 1, prefetch: 0 });
  await given.close();
  expect(raw.ended).toBe(false);
  expect((await raw.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
});

it('an unsettled delivery of a closed broker comes back to another consumer', async () => {
  const crashed = broker({ leaseMs: 500 });
  const got = await collect(crashed);
  await crashed.publish(task('orphan'));
  await eventually(() => expect(got).toHaveLength(1));
  await crashed.close();
  expect(await (got[0] as Delivery).ack()).toBe(false);
  const again = await collect(broker({ leaseMs: 500 }));
  await eventually(() => expect(again).toHaveLength(1));
  expect((again[0] as Delivery).redelivered).toBe(true);
  expect((again[0] as Delivery).attempt).toBe(2);
  await (again[0] as Delivery).ack();
});

it('exposes the lease token to task code as this.token, and it fences the row the task holds', async () => {
  const b = broker();
  const server = closer.add(new Server({ broker: b, logger: silentLogger }));
  const seen: { token: string; leased: unknown[] }[] = [];
  const withToken = defineTask('with_token', async function () {
    const { rows } = await raw.query(`SELECT lease_token FROM ${table()}`);
    seen.push({ token: this.token, leased: rows.map((r: { lease_token: unknown }) => r.lease_token) });
  });
  server.register(withToken);
  await server.worker({ concurrency: 1, handleSignals: false }).start();
  await server.send(withToken.signature());
  await eventually(() => expect(seen).toHaveLength(1));
  expect(seen[0]?.leased).toEqual([seen[0]?.token]);
});
