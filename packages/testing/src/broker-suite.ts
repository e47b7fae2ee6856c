import {
  type Broker,
  type Delivery,
  decodeSignature,
  encodeSignatureCompact,
  isMachineryError,
  type Signature,
  signature,
} from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type Harness, type SuiteBaseOptions, useHarness } from './harness.js';
import { eventually, observeFor } from './helpers.js';

/** Options for {@link brokerSuite}. */
export interface BrokerSuiteOptions extends SuiteBaseOptions<Broker> {
  /**
   * Puts `body` on `queue` as raw bytes, bypassing the codec — used by the bad-input tests. Without it
   * those tests are skipped with that reason.
   */
  injectRaw?: (ctx: AdapterContext, queue: string, body: string) => Promise<void>;
}

interface Collected {
  readonly deliveries: Delivery[];
  /** Task names in delivery order. */
  readonly bodies: string[];
  /** Arrival times (ms since epoch) in delivery order. */
  readonly at: number[];
}

async function collect(
  h: Harness<Broker>,
  broker: Broker,
  queue: string,
  options: { concurrency?: number; prefetch?: number; ack?: boolean } = {},
): Promise<Collected> {
  const out: Collected = { deliveries: [], bodies: [], at: [] };
  const consumer = await broker.consume(
    queue,
    (d) => {
      out.deliveries.push(d);
      out.bodies.push(d.signature.name);
      out.at.push(Date.now());
      if (options.ack) void d.ack();
    },
    { concurrency: options.concurrency ?? 1, prefetch: options.prefetch ?? 0 },
  );
  h.closer.add({ close: () => consumer.stop() });
  return out;
}

function task(name: string, args: unknown[] = [], extra: Partial<Signature> = {}): Signature {
  return signature(name, args, { headers: {}, ...extra });
}

/**
 * The broker conformance suite. Every broker runs it against its real server; it reads the broker's
 * `capabilities` and skips, with the reason shown, only what the broker declares it lacks.
 *
 * @example
 * ```ts
 * brokerSuite({ name: 'RedisBroker', create: ({ namespace }) => new RedisBroker({ prefix: namespace }) })
 * ```
 */
export function brokerSuite(options: BrokerSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`${options.name}: broker conformance`, () => {
    const harness = useHarness(options);

    it(
      'publishes a task and delivers it unchanged, with the routing key defaulted',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue);
        const sig = task('echo', [1, 'two', [3, 4], true, 2n ** 60n]);
        await broker.publish(sig);
        expect(sig.routingKey).toBe(broker.defaultQueue);
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        const d = got.deliveries[0] as Delivery;
        // Compared in the compact form: brokers may write either form, which differ only in zero values.
        // SQS brokers set SQSReceiptHandle on delivery, as Go does; everything else arrives unchanged.
        expect(encodeSignatureCompact({ ...d.signature, sqsReceiptHandle: '' })).toBe(
          encodeSignatureCompact(sig),
        );
        expect(d.queue).toBe(broker.defaultQueue);
        expect(d.attempt).toBe(1);
        expect(d.redelivered).toBe(false);
        expect(typeof d.token).toBe('string');
        expect(await d.ack()).toBe(true);
      },
      timeout,
    );

    it(
      'routes by routing key: a consumer of one queue never sees another queue’s tasks',
      async () => {
        const h = harness();
        const broker = await h.make();
        const other = `${broker.defaultQueue}_other`;
        const main = await collect(h, broker, broker.defaultQueue, { ack: true });
        const side = await collect(h, broker, other, { ack: true });
        await broker.publish(task('to_other', [], { routingKey: other }));
        await broker.publish(task('to_main'));
        await eventually(() => {
          expect(main.bodies).toEqual(['to_main']);
          expect(side.bodies).toEqual(['to_other']);
        });
      },
      timeout,
    );

    it(
      'an acknowledged task is gone: the next delivery is the next task',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await broker.publish(task('first'));
        await eventually(() => expect(got.bodies).toEqual(['first']));
        await broker.publish(task('second'));
        await eventually(() => expect(got.bodies).toEqual(['first', 'second']));
      },
      timeout,
    );

    it(
      'never holds more than concurrency + prefetch unsettled deliveries',
      async () => {
        const h = harness();
        const broker = await h.make();
        await broker.publishMany(Array.from({ length: 12 }, (_, i) => task(`t${i}`)));
        const got = await collect(h, broker, broker.defaultQueue, { concurrency: 2, prefetch: 1 });
        await eventually(() => expect(got.deliveries).toHaveLength(3));
        await observeFor(300);
        expect(got.deliveries).toHaveLength(3);
        await (got.deliveries[0] as Delivery).ack();
        await eventually(() => expect(got.deliveries).toHaveLength(4));
        await observeFor(200);
        expect(got.deliveries).toHaveLength(4);
      },
      timeout,
    );

    it(
      'requeues a nacked task and counts the delivery attempt',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue);
        await broker.publish(task('again'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        expect(await (got.deliveries[0] as Delivery).nack({ requeue: true })).toBe(true);
        await eventually(() => expect(got.deliveries).toHaveLength(2));
        const second = got.deliveries[1] as Delivery;
        expect(second.signature.uuid).toBe((got.deliveries[0] as Delivery).signature.uuid);
        expect(second.attempt).toBe(2);
        expect(second.redelivered).toBe(true);
        await second.ack();
      },
      timeout,
    );

    it(
      'settling twice is a harmless no-op',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue);
        await broker.publish(task('once'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        const d = got.deliveries[0] as Delivery;
        expect(await d.ack()).toBe(true);
        expect(await d.ack()).toBe(false);
        expect(await d.nack({ requeue: true })).toBe(false);
        await observeFor(200);
        expect(got.deliveries).toHaveLength(1);
      },
      timeout,
    );

    it(
      'redelivers a task whose consumer went away before acknowledging it',
      async () => {
        const h = harness();
        const crashed = await h.make();
        const got = await collect(h, crashed, crashed.defaultQueue);
        await crashed.publish(task('survivor'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        await crashed.close();
        const healthy = await h.make();
        const again = await collect(h, healthy, healthy.defaultQueue);
        await eventually(() => expect(again.deliveries).toHaveLength(1), {
          timeoutMs: h.ctx.redeliveryTimeoutMs + 10_000,
        });
        const d = again.deliveries[0] as Delivery;
        expect(d.signature.uuid).toBe((got.deliveries[0] as Delivery).signature.uuid);
        expect(d.redelivered).toBe(true);
        expect(d.token).not.toBe((got.deliveries[0] as Delivery).token);
        expect(await d.ack()).toBe(true);
      },
      timeout,
    );

    it(
      'stops delivering after the consumer is stopped, and another consumer gets the task',
      async () => {
        const h = harness();
        const broker = await h.make();
        const seen: Delivery[] = [];
        const consumer = await broker.consume(broker.defaultQueue, (d) => seen.push(d), {
          concurrency: 1,
          prefetch: 0,
        });
        await consumer.stop();
        await broker.publish(task('later'));
        await observeFor(300);
        expect(seen).toHaveLength(0);
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await eventually(() => expect(got.bodies).toEqual(['later']));
      },
      timeout,
    );

    it(
      'publishes many tasks at once',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue, { concurrency: 10, ack: true });
        await broker.publishMany(Array.from({ length: 50 }, (_, i) => task(`bulk${i}`)));
        await eventually(() => expect(new Set(got.bodies).size).toBe(50));
      },
      timeout,
    );

    it(
      'publishMany is all-or-none when one message cannot be encoded',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.atomicBulkPublish, 'broker declares no atomic bulk publish');
        const bad = task('bad');
        bad.args = [{ name: '', type: 'float64', value: Number.NaN }];
        await expect(broker.publishMany([task('good1'), bad, task('good2')])).rejects.toThrow();
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await broker.publish(task('marker'));
        await eventually(() => expect(got.bodies).toContain('marker'));
        expect(got.bodies).toEqual(['marker']);
      },
      timeout,
    );

    it(
      'refuses an oversized message with ERR_PAYLOAD_TOO_LARGE',
      async () => {
        const h = harness();
        const broker = await h.make();
        let caught: unknown;
        try {
          await broker.publish(task('huge', ['x'.repeat(8 * 1024 * 1024)]));
        } catch (err) {
          caught = err;
        }
        expect(isMachineryError(caught, 'ERR_PAYLOAD_TOO_LARGE')).toBe(true);
      },
      timeout,
    );

    it(
      'delays a task until its ETA',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(
          !broker.capabilities.delays,
          'broker declares no native delays (the Worker re-delays early tasks)',
        );
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        const eta = new Date(Date.now() + 1200);
        await broker.publish(task('later', [], { eta }));
        await broker.publish(task('now'));
        await eventually(() => expect(got.bodies).toEqual(['now']));
        await eventually(() => expect(got.bodies).toEqual(['now', 'later']), { timeoutMs: 10_000 });
        // Not early (a 50 ms allowance for clock granularity between the broker and this process).
        expect(got.at[1] as number).toBeGreaterThanOrEqual(eta.getTime() - 50);
      },
      timeout,
    );

    it(
      'moves every due delayed task at once, each to its own queue',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.delays, 'broker declares no native delays');
        const other = `${broker.defaultQueue}_delayed_other`;
        const main = await collect(h, broker, broker.defaultQueue, { concurrency: 20, ack: true });
        const side = await collect(h, broker, other, { concurrency: 20, ack: true });
        const eta = new Date(Date.now() + 500);
        await broker.publishMany([
          ...Array.from({ length: 15 }, (_, i) => task(`d${i}`, [], { eta })),
          ...Array.from({ length: 5 }, (_, i) => task(`o${i}`, [], { eta, routingKey: other })),
        ]);
        await eventually(
          () => {
            expect(main.bodies).toHaveLength(15);
            expect(side.bodies).toHaveLength(5);
          },
          { timeoutMs: 10_000 },
        );
      },
      timeout,
    );

    it(
      'delays a requeue when nack asks for a delay',
      async () => {
        const h = harness();
        const broker = await h.make();
        const got = await collect(h, broker, broker.defaultQueue);
        await broker.publish(task('slow'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        const nackedAt = Date.now();
        await (got.deliveries[0] as Delivery).nack({ requeue: true, delayMs: 1000 });
        await eventually(() => expect(got.deliveries).toHaveLength(2), { timeoutMs: 10_000 });
        expect((got.at[1] as number) - nackedAt).toBeGreaterThanOrEqual(950);
        await (got.deliveries[1] as Delivery).ack();
      },
      timeout,
    );

    it(
      'dead-letters a rejected task with its reason and can requeue it',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.deadLetterInspection, 'broker declares no dead-letter inspection');
        const got = await collect(h, broker, broker.defaultQueue);
        await broker.publish(task('poison'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        await (got.deliveries[0] as Delivery).nack({ requeue: false, reason: 'cannot be helped' });
        const dead = await eventually(async () => {
          const list = await broker.deadLetters();
          expect(list).toHaveLength(1);
          return list;
        });
        expect(dead[0]?.reason).toBe('cannot be helped');
        expect(decodeSignature(dead[0]?.body as string).name).toBe('poison');
        expect(await broker.requeueDeadLetters()).toBe(1);
        await eventually(() => expect(got.deliveries).toHaveLength(2));
        expect((got.deliveries[1] as Delivery).signature.name).toBe('poison');
        await (got.deliveries[1] as Delivery).ack();
        expect(await broker.deadLetters()).toHaveLength(0);
      },
      timeout,
    );

    const valid = '{"UUID":"task_ok","Name":"x","RoutingKey":"q","Args":[{"Type":"int64","Value":1}]}';
    let nested = '{"UUID":"task_deep","Name":"x"}';
    for (let i = 0; i < 150; i++) nested = `{"UUID":"task_deep${i}","Name":"x","OnSuccess":[${nested}]}`;
    for (const [what, body] of [
      ['malformed JSON', '{"UUID":"task_1","Name":'],
      ['truncated JSON', valid.slice(0, valid.length - 7)],
      ['a non-object body', '[1,2,3]'],
      ['a JSON string body', '"add"'],
      ['a null body', 'null'],
      ['a message without UUID', '{"Name":"x","Args":null}'],
      ['a message without Name', '{"UUID":"task_3","Args":null}'],
      ['an invalid ETA', '{"UUID":"task_2","Name":"x","ETA":"soon"}'],
      ['a negative RetryCount', '{"UUID":"task_4","Name":"x","RetryCount":-1}'],
      ['a fractional RetryCount', '{"UUID":"task_5","Name":"x","RetryCount":1.5}'],
      ['a RetryCount given as a string', '{"UUID":"task_6","Name":"x","RetryCount":"3"}'],
      ['Args that are not an array', '{"UUID":"task_7","Name":"x","Args":{"Type":"int64"}}'],
      ['callbacks nested 150 deep', nested],
    ] as const) {
      it(
        `dead-letters ${what} and keeps consuming`,
        async (t) => {
          const h = harness();
          const broker = await h.make();
          t.skip(!options.injectRaw, 'the harness gives no injectRaw()');
          t.skip(!broker.capabilities.deadLetterInspection, 'broker declares no dead-letter inspection');
          const got = await collect(h, broker, broker.defaultQueue, { ack: true });
          await options.injectRaw?.(h.ctx, broker.defaultQueue, body);
          await broker.publish(task('healthy'));
          await eventually(() => expect(got.bodies).toEqual(['healthy']));
          const dead = await eventually(async () => {
            const list = await broker.deadLetters();
            expect(list).toHaveLength(1);
            return list;
          });
          expect(dead[0]?.body).toBe(body);
          expect(dead[0]?.reason.length).toBeGreaterThan(0);
        },
        timeout,
      );
    }

    it(
      'dead-letters a body over the maximum message size and keeps consuming',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!options.injectRaw, 'the harness gives no injectRaw()');
        t.skip(!broker.capabilities.deadLetterInspection, 'broker declares no dead-letter inspection');
        // Consume first: on AMQP the consumer declares the queue, and a raw publish to a missing queue vanishes.
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        const huge = `{"UUID":"task_huge","Name":"x","Args":[{"Type":"string","Value":"${'x'.repeat(2 * 1024 * 1024)}"}]}`;
        let refused: unknown;
        try {
          await options.injectRaw?.(h.ctx, broker.defaultQueue, huge);
        } catch (err) {
          refused = err;
        }
        t.skip(refused !== undefined, `the service itself refuses a 2 MiB message: ${String(refused)}`);
        await broker.publish(task('healthy'));
        await eventually(() => expect(got.bodies).toEqual(['healthy']), { timeoutMs: 15_000 });
        const dead = await eventually(
          async () => {
            const list = await broker.deadLetters();
            expect(list).toHaveLength(1);
            return list;
          },
          { timeoutMs: 15_000, intervalMs: 200 },
        );
        expect(dead[0]?.reason).toMatch(/exceeds the maximum/);
      },
      timeout,
    );

    it(
      'delivers "__proto__" and "constructor" keys as plain data without polluting prototypes',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!options.injectRaw, 'the harness gives no injectRaw()');
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        const body =
          '{"UUID":"task_proto","Name":"proto","Headers":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}},' +
          '"Args":[{"Type":"json","Value":{"__proto__":{"polluted":true}}}]}';
        await options.injectRaw?.(h.ctx, broker.defaultQueue, body);
        await eventually(() => expect(got.bodies).toEqual(['proto']));
        const sig = (got.deliveries[0] as Delivery).signature;
        expect(Object.keys(sig.headers ?? {})).toEqual(['__proto__', 'constructor']);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
      },
      timeout,
    );

    it(
      'lists pending tasks oldest first without removing them',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.pendingInspection, 'broker declares no pending inspection');
        const sigs = [task('p1', [1]), task('p2', [2]), task('p3', [3])];
        for (const s of sigs) await broker.publish(s);
        const pending = await eventually(async () => {
          const p = await broker.pendingTasks(broker.defaultQueue);
          expect(p).toHaveLength(3);
          return p;
        });
        expect(pending.map((s) => s.uuid)).toEqual(sigs.map((s) => s.uuid));
        expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(3);
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await eventually(() => expect(got.bodies).toEqual(['p1', 'p2', 'p3']));
        await eventually(async () => expect(await broker.pendingTasks(broker.defaultQueue)).toHaveLength(0));
      },
      timeout,
    );

    it(
      'lists delayed tasks',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.delayedInspection, 'broker declares no delayed inspection');
        const sig = task('future', [], { eta: new Date(Date.now() + 60_000) });
        await broker.publish(sig);
        const delayed = await broker.delayedTasks();
        expect(delayed.map((s) => s.uuid)).toContain(sig.uuid);
      },
      timeout,
    );

    it(
      'extends a held lease, and refuses once the delivery is settled',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.leaseRenewal, 'broker declares no lease renewal');
        const got = await collect(h, broker, broker.defaultQueue);
        await broker.publish(task('long'));
        await eventually(() => expect(got.deliveries).toHaveLength(1));
        const d = got.deliveries[0] as Delivery;
        expect(await d.extendLease?.(5000)).toBe(true);
        await d.ack();
        expect(await d.extendLease?.(5000)).toBe(false);
      },
      timeout,
    );

    it(
      'delivers higher priority first',
      async (t) => {
        const h = harness();
        const broker = await h.make();
        t.skip(!broker.capabilities.priorities, 'broker declares no priorities');
        await broker.publish(task('low', [], { priority: 1 }));
        await broker.publish(task('high', [], { priority: 9 }));
        const got = await collect(h, broker, broker.defaultQueue, { ack: true });
        await eventually(() => expect(got.bodies).toEqual(['high', 'low']));
      },
      timeout,
    );
  });
}
