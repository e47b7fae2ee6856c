import { type Broker, type Delivery, type Signature, signature } from '@machinery/core';
import { describe } from 'vitest';
import { type Harness, useHarness } from '../harness.js';
import type { BrokerSuiteOptions } from './options.js';

/** What the tests of one group share: the per-test harness, the suite options and the test timeout. */
export interface GroupContext {
  readonly harness: () => Harness<Broker>;
  readonly options: BrokerSuiteOptions;
  readonly timeout: number;
}

/** One group of broker tests: registers its own `describe` block, so it runs alone or in `brokerSuite`. */
export type BrokerGroup = (options: BrokerSuiteOptions) => void;

/** Builds a group from its title and tests; every group gets its own harness (namespace, cleanup). */
export function defineGroup(title: string, tests: (g: GroupContext) => void): BrokerGroup {
  return (options) => {
    describe(`${options.name}: broker ${title}`, () => {
      tests({ harness: useHarness(options), options, timeout: options.testTimeoutMs ?? 30_000 });
    });
  };
}

/** Deliveries seen by a test consumer, in delivery order. */
export interface Collected {
  readonly deliveries: Delivery[];
  /** Task names in delivery order. */
  readonly bodies: string[];
  /** Arrival times (ms since epoch) in delivery order. */
  readonly at: number[];
}

/** Starts a consumer that records every delivery (and acknowledges it with `ack`); stopped after the test. */
export async function collect(
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

/** A task signature with empty headers (as Go sends them). */
export function task(name: string, args: unknown[] = [], extra: Partial<Signature> = {}): Signature {
  return signature(name, args, { headers: {}, ...extra });
}

/** The delivery at `i`, which the test has already waited for. */
export function nth(got: Collected, i: number): Delivery {
  const d = got.deliveries[i];
  if (!d) throw new Error(`No delivery #${i + 1} yet (${got.deliveries.length} so far).`);
  return d;
}
