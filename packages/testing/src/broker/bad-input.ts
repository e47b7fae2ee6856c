import { expect, it } from 'vitest';
import { eventually } from '../helpers.js';
import { collect, defineGroup, nth, task } from './group.js';

const valid = '{"UUID":"task_ok","Name":"x","RoutingKey":"q","Args":[{"Type":"int64","Value":1}]}';
let nested = '{"UUID":"task_deep","Name":"x"}';
for (let i = 0; i < 150; i++) nested = `{"UUID":"task_deep${i}","Name":"x","OnSuccess":[${nested}]}`;

/** Bodies no worker can run, each of which must end in the dead-letter store. */
const malformed = [
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
] as const;

/** Bad input: what does not decode is dead-lettered with a reason and consuming goes on. */
export const badInput = defineGroup('bad input', ({ harness, options, timeout }) => {
  for (const [what, body] of malformed) {
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
      const sig = nth(got, 0).signature;
      expect(Object.keys(sig.headers ?? {})).toEqual(['__proto__', 'constructor']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    },
    timeout,
  );
});
