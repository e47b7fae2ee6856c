import {
  type AsyncResult,
  type Backend,
  type Broker,
  defineTask,
  type FlowControl,
  type RateLimitRule,
  Server,
  silentLogger,
  TaskStatus,
} from '@machinery/core';
import { describe, expect, it } from 'vitest';
import type { AdapterContext } from './context.js';
import { type Harness, type SuiteBaseOptions, useHarness } from './harness.js';
import { eventually, observeFor } from './helpers.js';

/** The data plane the flow scenarios run on; called once per server in a test, same namespace. */
export interface FlowScenarioAdapters {
  broker: Broker;
  backend: Backend;
}

/** Options for {@link flowControlSuite}. */
export interface FlowControlSuiteOptions extends SuiteBaseOptions<FlowControl> {
  /**
   * Builds a broker and backend for one server (one "process"); with it, the end-to-end scenarios run
   * too: limits honoured across two workers, nothing lost, duplicates answered with the first result.
   */
  adapters?: (ctx: AdapterContext) => FlowScenarioAdapters | Promise<FlowScenarioAdapters>;
}

const SOON = { timeoutMs: 10_000, intervalMs: 20 };
const GET = { timeoutMs: 30_000 };

type Store = 'rateLimits' | 'concurrency' | 'unique';

/**
 * The flow control conformance suite: rate limits (sliding window, paced wait line), concurrency slots under
 * leases and unique claims, each seen from a second instance (a second connection). A test of a store
 * the adapter does not have (`MemcacheFlowControl` has only `unique`) is skipped with the reason. With
 * `adapters`, the scenarios also run through real Servers and Workers.
 */
export function flowControlSuite(options: FlowControlSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`${options.name}: flow control conformance`, () => {
    const harness = useHarness(options);
    /** Two instances on one store, or a skip saying which store this adapter lacks. */
    async function pair<S extends Store>(
      store: S,
      skip: (note: string) => void,
    ): Promise<[NonNullable<FlowControl[S]>, NonNullable<FlowControl[S]>]> {
      const a = await harness().make();
      const b = await harness().make();
      if (a[store] === undefined || b[store] === undefined) {
        skip(`${options.name} has no ${store} store`);
      }
      return [a[store] as NonNullable<FlowControl[S]>, b[store] as NonNullable<FlowControl[S]>];
    }
    const ns = (name: string) => `${harness().ctx.namespace}-${name}`;

    it(
      'rate limit: up to max starts in a window, then a refusal with the wait until the window has room',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 2, perMs: 1000 };
        const key = ns('k');
        expect(await a.acquire(key, 'u1', rule)).toBe(0);
        expect(await b.acquire(key, 'u2', rule)).toBe(0);
        const wait = await a.acquire(key, 'u3', rule);
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(1000);
        // Another key has its own limit.
        expect(await b.acquire(ns('other'), 'u4', rule)).toBe(0);
      },
      timeout,
    );

    it(
      'rate limit: a refused task asking before its wake-up time waits the rest; at it, it starts',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 1, perMs: 300 };
        const key = ns('k');
        expect(await a.acquire(key, 'u1', rule)).toBe(0);
        const wait = await a.acquire(key, 'u2', rule);
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(300);
        // Asking again early (from another instance) waits the rest and keeps its place in line.
        const rest = await b.acquire(key, 'u2', rule);
        expect(rest).toBeGreaterThan(0);
        expect(rest).toBeLessThanOrEqual(wait);
        await eventually(async () => expect(await b.acquire(key, 'u2', rule)).toBe(0), SOON);
        // u2's start is in the window now: the next task waits for it to leave.
        const next = await a.acquire(key, 'u3', rule);
        expect(next).toBeGreaterThan(0);
        expect(next).toBeLessThanOrEqual(300);
      },
      timeout,
    );

    it(
      'rate limit: refused tasks are given wake-up times one interval (perMs / max) apart',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 1, perMs: 1000 };
        const key = ns('k');
        expect(await a.acquire(key, 'u0', rule)).toBe(0);
        const waits = [];
        for (let i = 1; i <= 4; i++) waits.push(await (i % 2 ? a : b).acquire(key, `u${i}`, rule));
        for (let i = 1; i < waits.length; i++) {
          // One interval after the previous one (less the time between the two calls).
          expect((waits[i] as number) - (waits[i - 1] as number)).toBeGreaterThan(900);
          expect((waits[i] as number) - (waits[i - 1] as number)).toBeLessThanOrEqual(1001);
        }
      },
      timeout,
    );

    it(
      'rate limit: tasks coming back late and together start only as far as the window has room',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 3, perMs: 400 };
        const key = ns('k');
        for (let i = 0; i < 3; i++) expect(await a.acquire(key, `first${i}`, rule)).toBe(0);
        const asked = Date.now();
        const waits: number[] = [];
        for (let i = 0; i < 6; i++) waits.push(await b.acquire(key, `late${i}`, rule));
        expect(waits.every((w) => w > 0)).toBe(true);
        // Everyone comes back after the last wake-up time, all at once.
        const latest = asked + Math.max(...waits);
        await eventually(() => expect(Date.now()).toBeGreaterThan(latest + 5), SOON);
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).acquire(key, `late${i}`, rule)),
        );
        expect(answers.filter((w) => w === 0)).toHaveLength(3);
      },
      timeout,
    );

    it(
      'rate limit: a start is logged at the latest moment it may begin (startWithinMs), so it holds the window that much longer',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 1, perMs: 1000, startWithinMs: 5000 };
        const key = ns('k');
        expect(await a.acquire(key, 'u1', rule)).toBe(0);
        // Room again only perMs after the latest moment u1 may begin.
        const wait = await b.acquire(key, 'u2', rule);
        expect(wait).toBeGreaterThan(1000);
        expect(wait).toBeLessThanOrEqual(6000);
        // The wait line moves on by (perMs + startWithinMs) / max, the pace such starts can keep.
        const next = await a.acquire(key, 'u3', rule);
        expect(next - wait).toBeGreaterThan(5900);
        expect(next - wait).toBeLessThanOrEqual(6001);
      },
      timeout,
    );

    it(
      'rate limit: asks made at once are answered as if made one after the other: max start, the rest wait in line',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 2, perMs: 1000 };
        const key = ns('k');
        const answers = await Promise.all([
          ...Array.from({ length: 5 }, (_, i) => a.acquire(key, `a${i}`, rule)),
          b.acquire(key, 'b0', rule),
          a.acquire(ns('other'), 'o0', rule),
        ]);
        expect(answers.at(-1)).toBe(0);
        const waits = answers.slice(0, -1);
        expect(waits.filter((w) => w === 0)).toHaveLength(2);
        // The refused ones got wake-up times one interval (perMs / max) apart, none twice.
        const refused = waits.filter((w) => w > 0).sort((x, y) => x - y);
        expect(refused).toHaveLength(4);
        for (let i = 1; i < refused.length; i++) {
          expect((refused[i] as number) - (refused[i - 1] as number)).toBeGreaterThan(400);
          expect((refused[i] as number) - (refused[i - 1] as number)).toBeLessThanOrEqual(501);
        }
      },
      timeout,
    );

    it(
      'rate limit: a task asking again with withdrawMs gives back the start it did not use, and only its own',
      async (t) => {
        const [a, b] = await pair('rateLimits', (note) => t.skip(note));
        const rule: RateLimitRule = { max: 1, perMs: 10_000 };
        const key = ns('k');
        expect(await a.acquire(key, 'u1', rule)).toBe(0);
        expect(await b.acquire(key, 'u2', rule)).toBeGreaterThan(0);
        // Another task's withdrawal leaves u1's start in place.
        expect(await b.acquire(key, 'u3', rule, 5000)).toBeGreaterThan(0);
        // u1's answer came too late: it withdraws that start and takes the room again, in one call.
        expect(await b.acquire(key, 'u1', rule, 5000)).toBe(0);
        // One start in the window, not two: the next task still waits.
        expect(await a.acquire(key, 'u4', rule)).toBeGreaterThan(0);
      },
      timeout,
    );

    it(
      'concurrency: at most max holders per key across instances; a release frees a slot',
      async (t) => {
        const [a, b] = await pair('concurrency', (note) => t.skip(note));
        const key = ns('k');
        expect(await a.acquire(key, 'h1', 2, 10_000)).toBe(true);
        expect(await b.acquire(key, 'h2', 2, 10_000)).toBe(true);
        expect(await a.acquire(key, 'h3', 2, 10_000)).toBe(false);
        expect(await b.acquire(ns('other'), 'h3', 2, 10_000)).toBe(true);
        // A holder asking again keeps its slot.
        expect(await b.acquire(key, 'h1', 2, 10_000)).toBe(true);
        await b.release(key, 'h1');
        await b.release(key, 'nobody');
        expect(await a.acquire(key, 'h3', 2, 10_000)).toBe(true);
        expect(await a.acquire(key, 'h4', 2, 10_000)).toBe(false);
      },
      timeout,
    );

    it(
      'concurrency: the slot of a holder that never releases frees itself when its lease lapses',
      async (t) => {
        const [a, b] = await pair('concurrency', (note) => t.skip(note));
        const key = ns('k');
        expect(await a.acquire(key, 'ghost', 1, 300)).toBe(true);
        expect(await b.acquire(key, 'h2', 1, 10_000)).toBe(false);
        await eventually(async () => expect(await b.acquire(key, 'h2', 1, 10_000)).toBe(true), SOON);
        expect(await a.renew(key, 'ghost', 10_000)).toBe(false);
      },
      timeout,
    );

    it(
      'concurrency: a renewed lease is kept past its first deadline',
      async (t) => {
        const [a, b] = await pair('concurrency', (note) => t.skip(note));
        const key = ns('k');
        expect(await a.acquire(key, 'h1', 1, 400)).toBe(true);
        expect(await b.renew(key, 'h1', 10_000)).toBe(true);
        await observeFor(600);
        expect(await b.acquire(key, 'h2', 1, 10_000)).toBe(false);
        expect(await a.renew(key, 'nobody', 10_000)).toBe(false);
      },
      timeout,
    );

    it(
      'unique: the first claim wins across instances; later claims get its UUID',
      async (t) => {
        const [a, b] = await pair('unique', (note) => t.skip(note));
        const key = ns('k');
        expect(await a.claim(key, 'u1', 10_000)).toBe('u1');
        expect(await b.claim(key, 'u2', 10_000)).toBe('u1');
        expect(await a.claim(key, 'u3', 10_000)).toBe('u1');
        expect(await b.claim(ns('other'), 'u4', 10_000)).toBe('u4');
      },
      timeout,
    );

    it(
      'unique: a claim lapses after its window, and release drops only its own claim',
      async (t) => {
        const [a, b] = await pair('unique', (note) => t.skip(note));
        const key = ns('k');
        expect(await a.claim(key, 'u1', 300)).toBe('u1');
        await eventually(async () => expect(await b.claim(key, 'u2', 10_000)).toBe('u2'), SOON);
        await a.release(key, 'u1');
        expect(await a.claim(key, 'u3', 10_000)).toBe('u2');
        await a.release(key, 'u2');
        expect(await b.claim(key, 'u3', 10_000)).toBe('u3');
      },
      timeout,
    );

    if (options.adapters !== undefined) flowScenarios(options, harness);
  });
}

/** The most of `times` (ms) in any window of `perMs` (a start at `t` and one at `t + perMs` are apart). */
function busiestWindow(times: readonly number[], perMs: number): number {
  const sorted = [...times].sort((x, y) => x - y);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) <= (sorted[i] as number) - perMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/**
 * Every rate-limited task succeeded, each task function began exactly once, and no window of `perMs`
 * holds more than `max` of the times they recorded as they began (a worker begins an admitted task
 * only within startWithinMs, and the store counts it that long).
 */
async function expectRateHeld(
  results: readonly AsyncResult<unknown>[],
  starts: readonly { uuid: string; at: number }[],
  max: number,
  perMs: number,
): Promise<void> {
  for (const result of results) expect((await result.wait(GET)).state).toBe(TaskStatus.SUCCESS);
  expect(starts.map((s) => s.uuid).sort()).toEqual(results.map((r) => r.taskUUID).sort());
  expect(
    busiestWindow(
      starts.map((s) => s.at),
      perMs,
    ),
  ).toBeLessThanOrEqual(max);
}

/** The end-to-end scenarios, through Servers and Workers on the given broker and backend. */
function flowScenarios(options: FlowControlSuiteOptions, harness: () => Harness<FlowControl>): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  const adapters = options.adapters as NonNullable<FlowControlSuiteOptions['adapters']>;

  /**
   * A server on its own flow control instance: two servers in one test are two processes. `wrap` puts a
   * view in front of the instance (closing the view closes it).
   */
  async function server(
    wrap?: (flow: FlowControl) => FlowControl | Promise<FlowControl>,
  ): Promise<{ server: Server; flow: FlowControl }> {
    const h = harness();
    const made = await h.make();
    const flow = wrap === undefined ? made : await wrap(made);
    const { broker, backend } = await adapters(h.ctx);
    return { server: h.closer.add(new Server({ broker, backend, flow, logger: silentLogger })), flow };
  }

  it(
    'rate limit across two workers: every task runs exactly once, no retry spent, no window of perMs holds more than max starts',
    async (t) => {
      const producer = await server();
      if (producer.flow.rateLimits === undefined) t.skip(`${options.name} has no rateLimits store`);
      const max = 5;
      const perMs = 500;
      const starts: { uuid: string; at: number }[] = [];
      const handedBack: string[] = [];
      let lastLimitedStart = 0;
      const workers = [await server(), await server()];
      const free = defineTask('flow_free', () => Date.now());
      for (const { server: s } of workers) {
        const limited = defineTask(
          'flow_limited',
          function (this: { signature: { uuid: string } }) {
            const at = Date.now();
            starts.push({ uuid: this.signature.uuid, at });
            lastLimitedStart = Math.max(lastLimitedStart, at);
          },
          { rateLimit: { max, perMs } },
        );
        s.register(limited, free);
        const w = s.worker({ concurrency: 4, handleSignals: false });
        w.on('handedBack', ({ signature }) => handedBack.push(signature.uuid));
        await w.start();
      }
      const limitedDef = defineTask('flow_limited', () => {});
      const results = await producer.server.sendMany(
        Array.from({ length: 4 * max }, () => limitedDef.signature()),
      );
      // The workers run other tasks while limited ones wait.
      const freeAt = await (await producer.server.send(free.signature())).get(GET);
      await expectRateHeld(results, starts, max, perMs);
      expect(freeAt).toBeLessThan(lastLimitedStart);
      expect(handedBack.length).toBeGreaterThan(0);
    },
    timeout,
  );

  it(
    'rate limit with answers read late (busy workers): no window of perMs holds more than max task starts',
    async (t) => {
      const producer = await server();
      if (producer.flow.rateLimits === undefined) t.skip(`${options.name} has no rateLimits store`);
      const max = 5;
      const perMs = 500;
      const starts: { uuid: string; at: number }[] = [];
      // The first max admissions reach their workers 200 ms late, as when a worker's event loop is busy
      // handing back a flood of first requests: begun then, they would share a window with the next
      // window's first starts (seven in one window here).
      let lateAnswers = max;
      for (let i = 0; i < 2; i++) {
        const { server: s } = await server(async (flow) => {
          const inner = flow.rateLimits as NonNullable<FlowControl['rateLimits']>;
          return {
            ...flow,
            close: () => flow.close(),
            rateLimits: {
              async acquire(key, uuid, rule, withdrawMs) {
                const wait = await inner.acquire(key, uuid, rule, withdrawMs);
                if (wait === 0 && lateAnswers-- > 0) await new Promise((r) => setTimeout(r, 200));
                return wait;
              },
            },
          };
        });
        s.register(
          defineTask(
            'flow_lagged',
            function (this: { signature: { uuid: string } }) {
              starts.push({ uuid: this.signature.uuid, at: Date.now() });
            },
            { rateLimit: { max, perMs } },
          ),
        );
        await s.worker({ concurrency: 4, handleSignals: false }).start();
      }
      const lagged = defineTask('flow_lagged', () => {});
      const results = await producer.server.sendMany(
        Array.from({ length: 3 * max }, () => lagged.signature()),
      );
      await expectRateHeld(results, starts, max, perMs);
      expect(lateAnswers).toBeLessThan(0);
    },
    timeout,
  );

  it(
    'per-key concurrency across two workers: never more than max running per key, every task runs',
    async (t) => {
      const producer = await server();
      if (producer.flow.concurrency === undefined) t.skip(`${options.name} has no concurrency store`);
      const max = 2;
      const running = new Map<string, number>();
      const peak = new Map<string, number>();
      for (let i = 0; i < 2; i++) {
        const { server: s } = await server();
        s.register(
          defineTask(
            'flow_keyed',
            async (customer: string) => {
              const now = (running.get(customer) ?? 0) + 1;
              running.set(customer, now);
              peak.set(customer, Math.max(peak.get(customer) ?? 0, now));
              // Work long enough for tasks of one key to overlap if the limit let them.
              await new Promise((resolve) => setTimeout(resolve, 40));
              running.set(customer, (running.get(customer) ?? 1) - 1);
            },
            { concurrencyLimit: { max, key: (customer) => customer, retryDelayMs: 30 } },
          ),
        );
        await s.worker({ concurrency: 6, handleSignals: false }).start();
      }
      const keyed = defineTask('flow_keyed', (_customer: string) => {});
      const results = await producer.server.sendMany(
        Array.from({ length: 16 }, (_, i) => keyed.signature(i % 2 ? 'acme' : 'globex')),
      );
      for (const result of results) expect((await result.wait(GET)).state).toBe(TaskStatus.SUCCESS);
      expect(peak.get('acme')).toBeLessThanOrEqual(max);
      expect(peak.get('globex')).toBeLessThanOrEqual(max);
      expect(peak.get('acme')).toBeGreaterThanOrEqual(1);
    },
    timeout,
  );

  it(
    'a slot held by a holder that never releases (a killed worker) frees after its lease, then the waiting task runs',
    async (t) => {
      const { server: s, flow } = await server();
      if (flow.concurrency === undefined) t.skip(`${options.name} has no concurrency store`);
      // A "worker" that took the only slot and was SIGKILLed: it never renews nor releases.
      expect(await flow.concurrency?.acquire('flow_single', 'killed-worker', 1, 500)).toBe(true);
      let runs = 0;
      const single = defineTask(
        'flow_single',
        () => {
          runs++;
        },
        { concurrencyLimit: { max: 1, retryDelayMs: 50 } },
      );
      s.register(single);
      const w = s.worker({ concurrency: 2, handleSignals: false });
      let handedBack = 0;
      w.on('handedBack', () => handedBack++);
      await w.start();
      const result = await s.send(single.signature());
      expect((await result.wait(GET)).state).toBe(TaskStatus.SUCCESS);
      expect(handedBack).toBeGreaterThan(0);
      expect(runs).toBe(1);
    },
    timeout,
  );

  it(
    'a duplicate send within the window returns the first task’s result and publishes nothing; after it a send publishes anew',
    async (t) => {
      const producer = await server();
      if (producer.flow.unique === undefined) t.skip(`${options.name} has no unique store`);
      const other = await server();
      const runs = new Map<string, number>();
      const welcome = defineTask(
        'flow_welcome',
        (user: string) => {
          runs.set(user, (runs.get(user) ?? 0) + 1);
          return user;
        },
        { unique: { forMs: 1500, key: (user) => user } },
      );
      producer.server.register(welcome);
      await producer.server.worker({ concurrency: 2, handleSignals: false }).start();
      const first = await producer.server.send(welcome.signature('ann'));
      // From another producer too: the claim is shared.
      const again = await other.server.send(welcome.signature('ann'));
      const many = await producer.server.sendMany([welcome.signature('ann'), welcome.signature('bob')]);
      expect(again.taskUUID).toBe(first.taskUUID);
      expect(many[0]?.taskUUID).toBe(first.taskUUID);
      expect(many[1]?.taskUUID).not.toBe(first.taskUUID);
      expect(await again.get(GET)).toBe('ann');
      expect(await many[1]?.get(GET)).toBe('bob');
      expect(runs.get('ann')).toBe(1);
      // Once the window has passed, the same key is published as a new task.
      const later = await eventually(async () => {
        const result = await producer.server.send(welcome.signature('ann'));
        expect(result.taskUUID).not.toBe(first.taskUUID);
        return result;
      }, SOON);
      expect(await later.get(GET)).toBe('ann');
      expect(runs.get('ann')).toBe(2);
    },
    timeout,
  );
}
