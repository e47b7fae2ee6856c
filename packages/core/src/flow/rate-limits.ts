import { MachineryError } from '../errors.js';

/**
 * A rate limit of a task: at most `max` starts per `perMs`, shared by every worker process that uses
 * the same {@link RateLimitStore}, per task name and, with `key`, per key computed from the arguments.
 *
 * @example
 * ```ts
 * const fetchPage = defineTask('fetch', (url: string) => get(url), {
 *   rateLimit: { max: 100, perMs: 1000, key: (url) => new URL(url).host },
 * })
 * ```
 */
export interface RateLimit<A extends unknown[] = unknown[]> {
  /** Starts allowed per `perMs` (a whole number ≥ 1). */
  max: number;
  /** The period, in ms (> 0). */
  perMs: number;
  /**
   * Starts allowed back to back before the pace applies (default 1: starts are spaced `perMs / max`
   * apart, so that no window of `perMs` holds more than `max`). A larger burst lets an idle limit run
   * up to `burst` tasks at once; a window of `perMs` may then hold up to `max + burst - 1`.
   */
  burst?: number;
  /**
   * The key the limit is counted per, from the task's arguments (as the task function receives them);
   * default: one limit for the task name. Limits are counted per task name and key.
   */
  key?(...args: A): string;
}

/** A limit as a store applies it: the pace and the burst tolerance. */
export interface RateLimitRule {
  /** ms between two starts at the limit: `perMs / max`. */
  readonly intervalMs: number;
  /** Starts allowed back to back (≥ 1). */
  readonly burst: number;
}

/**
 * Where rate limits are counted, shared by every process that uses the same store (a GCRA: one
 * "theoretical arrival time" per key). Implemented in core by `MemoryFlowControl` and on Redis by
 * `RedisFlowControl` (`@machinery/backend-redis`); a third party runs `flowControlSuite` from
 * `@machinery/testing`.
 *
 * A task over its limit gets a *reservation*: the next free start time is set aside for its UUID, and
 * the worker hands the delivery back until then. When it comes again the reservation lets it start
 * without counting twice, so waiting tasks start in the order they were first refused and a limit
 * stays busy without tasks polling for free slots.
 */
export interface RateLimitStore {
  /**
   * Asks whether task `uuid` may start now under `rule` for `key`. Resolves 0 when it may (the start
   * is counted), otherwise the ms until its reserved start time (counted already: the same `uuid`
   * asking again at or after that time resolves 0 without counting again). Atomic across processes.
   */
  acquire(key: string, uuid: string, rule: RateLimitRule): Promise<number>;
}

/**
 * How long a reservation is kept after its start time, in ms: a task handed back that comes later than
 * this (its worker stopped meanwhile) asks anew.
 */
export const RESERVATION_GRACE_MS = 60_000;

/**
 * The rule a store applies for `limit`.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for a limit that is not a whole `max` ≥ 1, a `perMs`
 * > 0 and a whole `burst` ≥ 1.
 */
export function rateLimitRule(taskName: string, limit: RateLimit<never[]>): RateLimitRule {
  const burst = limit.burst ?? 1;
  if (
    !Number.isSafeInteger(limit.max) ||
    limit.max < 1 ||
    !(limit.perMs > 0) ||
    !Number.isSafeInteger(burst) ||
    burst < 1
  ) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Task "${taskName}" has an invalid rateLimit (max ${limit.max}, perMs ${limit.perMs}, burst ${burst}); give a whole max ≥ 1, perMs > 0 and a whole burst ≥ 1.`,
    );
  }
  return { intervalMs: limit.perMs / limit.max, burst };
}
