/**
 * A concurrency limit of a task: at most `max` runs at once per key, across every worker process that
 * uses the same {@link ConcurrencyStore}. A run holds a slot under a lease that its worker renews while
 * the task runs, so a slot whose worker died (SIGKILL, lost host) frees itself when the lease lapses.
 *
 * @example
 * ```ts
 * const report = defineTask('report', (customer: string) => build(customer), {
 *   concurrencyLimit: { max: 2, key: (customer) => customer },
 * })
 * ```
 */
export interface ConcurrencyLimit<A extends unknown[] = unknown[]> {
  /** Runs at once per key (a whole number ≥ 1). */
  max: number;
  /** The key slots are counted per, from the task's arguments; default: one limit for the task name. */
  key?(...args: A): string;
  /**
   * How long a slot is held without renewal, in ms (default 30 000). The worker renews it every third
   * of this while the task runs; after a crash the slot frees itself within this long.
   */
  leaseMs?: number;
  /**
   * How long a task that found every slot taken waits before it asks again, in ms (default 1000; the
   * actual wait is drawn between half and one and a half of it so that waiting tasks do not come back
   * in lockstep).
   */
  retryDelayMs?: number;
}

/**
 * Slots of per-key concurrency limits, shared by every process that uses the same store: each key holds
 * at most `max` holders, each under a lease. Implemented in core by `MemoryFlowControl` and on Redis by
 * `RedisFlowControl` (`@machinery/backend-redis`); a third party runs `flowControlSuite` from
 * `@machinery/testing`.
 */
export interface ConcurrencyStore {
  /**
   * Takes a slot of `key` for `holder` for `leaseMs` when fewer than `max` unexpired holders hold one;
   * resolves whether it did. A holder that already holds a slot keeps it (its lease is extended).
   * Atomic across processes.
   */
  acquire(key: string, holder: string, max: number, leaseMs: number): Promise<boolean>;
  /** Extends `holder`'s lease on `key` to `leaseMs` from now; resolves false when it no longer holds it. */
  renew(key: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Gives `holder`'s slot of `key` back (a no-op when it holds none). */
  release(key: string, holder: string): Promise<void>;
}
