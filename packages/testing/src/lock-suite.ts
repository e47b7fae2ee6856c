import type { Lock } from '@machinery/core';
import { describe, expect, it } from 'vitest';
import { type SuiteBaseOptions, useHarness } from './harness.js';
import { eventually } from './helpers.js';

/** Options for {@link lockSuite}. */
export type LockSuiteOptions = SuiteBaseOptions<Lock>;

/** The lock conformance suite: exclusive acquisition, expiry, release, one winner under contention. */
export function lockSuite(options: LockSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`${options.name}: lock conformance`, () => {
    const harness = useHarness(options);
    const key = (name: string) => `${harness().ctx.namespace}:${name}`;

    it(
      'grants a key once until it expires, independently of other keys',
      async () => {
        const lock = await harness().make();
        expect(await lock.acquire(key('a'), 10_000)).toBe(true);
        expect(await lock.acquire(key('a'), 10_000)).toBe(false);
        expect(await lock.acquire(key('b'), 10_000)).toBe(true);
      },
      timeout,
    );

    it(
      'grants the key again after its time-to-live',
      async () => {
        const lock = await harness().make();
        expect(await lock.acquire(key('ttl'), 300)).toBe(true);
        await eventually(async () => expect(await lock.acquire(key('ttl'), 300)).toBe(true), {
          timeoutMs: 5000,
          intervalMs: 50,
        });
      },
      timeout,
    );

    it(
      'grants the key again after release',
      async () => {
        const lock = await harness().make();
        expect(await lock.acquire(key('rel'), 10_000)).toBe(true);
        await lock.release(key('rel'));
        expect(await lock.acquire(key('rel'), 10_000)).toBe(true);
      },
      timeout,
    );

    it(
      'lets exactly one of many concurrent callers win',
      async () => {
        const h = harness();
        const a = await h.make();
        const b = await h.make();
        const wins = await Promise.all(
          Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).acquire(key('race'), 10_000)),
        );
        expect(wins.filter(Boolean)).toHaveLength(1);
      },
      timeout,
    );
  });
}
