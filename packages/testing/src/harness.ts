import { afterEach, beforeEach } from 'vitest';
import type { AdapterContext, AdapterFactory } from './context.js';
import { Closer, uniqueNamespace } from './helpers.js';

/** Common suite options: how to build the adapter and clean up after it. */
export interface SuiteBaseOptions<T> {
  /** Shown in the describe block, e.g. "RedisBroker". */
  name: string;
  /** Builds a fresh adapter; called once or more per test with the same namespace. */
  create: AdapterFactory<T>;
  /** Removes what a test left on the server (queues, keys) after its adapters are closed. */
  cleanup?: (ctx: AdapterContext) => Promise<void>;
  /** Lease / visibility timeout the suite asks for, in ms (default 1000). */
  redeliveryTimeoutMs?: number;
  /** Per-test timeout in ms (default 30 000). */
  testTimeoutMs?: number;
}

/** Per-test state a suite builds in `beforeEach` and tears down in `afterEach`. */
export interface Harness<T> {
  readonly ctx: AdapterContext;
  readonly closer: Closer;
  /** A new adapter for this test (closed after the test). */
  make(overrides?: Partial<AdapterContext>): Promise<T>;
}

/** Registers the per-test lifecycle and returns a getter for the current test's harness. */
export function useHarness<T extends { close(): Promise<void> }>(
  options: SuiteBaseOptions<T>,
): () => Harness<T> {
  let current: Harness<T> | undefined;
  beforeEach(() => {
    const ctx: AdapterContext = {
      namespace: uniqueNamespace(),
      redeliveryTimeoutMs: options.redeliveryTimeoutMs ?? 1000,
    };
    const closer = new Closer();
    current = {
      ctx,
      closer,
      make: async (overrides) => closer.add(await options.create({ ...ctx, ...overrides })),
    };
  });
  afterEach(async () => {
    const h = current;
    current = undefined;
    if (!h) return;
    await h.closer.closeAll();
    await options.cleanup?.(h.ctx);
  });
  return () => {
    if (!current) throw new Error('The suite harness is only available inside a test.');
    return current;
  };
}
