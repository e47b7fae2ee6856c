import { MachineryError } from '../errors.js';

/**
 * A rate limit of a task: at most `max` starts in any window of `perMs`, shared by every worker process
 * that uses the same {@link RateLimitStore}, per task name and, with `key`, per key computed from the
 * arguments.
 *
 * @example
 * ```ts
 * const fetchPage = defineTask('fetch', (url: string) => get(url), {
 *   rateLimit: { max: 100, perMs: 1000, key: (url) => new URL(url).host },
 * })
 * ```
 */
export interface RateLimit<A extends unknown[] = unknown[]> {
  /** Starts allowed in any window of `perMs` (a whole number ≥ 1). */
  max: number;
  /** The window, in ms (> 0). */
  perMs: number;
  /**
   * The key the limit is counted per, from the task's arguments (as the task function receives them);
   * default: one limit for the task name. Limits are counted per task name and key.
   */
  key?(...args: A): string;
}

/** A limit as a store applies it. */
export interface RateLimitRule {
  /** Starts allowed in any window of `perMs`. */
  readonly max: number;
  /** The sliding window, in ms. */
  readonly perMs: number;
  /**
   * How long after the store admits it the task may still begin, in ms (default 0): the store logs the
   * start at the latest moment it may happen (now + this), so that a task begun a little after its
   * admission — its worker busy, the answer slow — never shares a window of `perMs` with more than
   * `max - 1` other starts. The worker begins an admitted task only within this time of asking.
   */
  readonly startWithinMs?: number;
}

/**
 * Where rate limits are counted, shared by every process that uses the same store: a sliding-window
 * log of the starts of the last `perMs` per key, so that no window of `perMs` ever holds more than
 * `max` starts — however late or bunched the waiting tasks come back — and a late task may still use
 * the room left in the window (the limit is not lost to lateness). Each start is logged at the latest
 * moment its task may begin (`rule.startWithinMs` after the admission): a start stays in the log for
 * `perMs` after that, and the wait line moves on by `(perMs + startWithinMs) / max`. Implemented in core by
 * `MemoryFlowControl` and on Redis by `RedisFlowControl` (`@machinery/backend-redis`); a third party
 * runs `flowControlSuite` from `@machinery/testing`.
 *
 * A task refused gets a wake-up time from the key's wait line: the first refused waits until the window
 * has room, each next one `perMs / max` later, so that waiting tasks come back spread at the limit's
 * pace instead of all at once. The time is remembered for its UUID: asking again before it waits the
 * rest; asking at or after it is an ordinary request (refused again, it goes to the end of the line).
 */
export interface RateLimitStore {
  /**
   * Asks whether task `uuid` may start now under `rule` for `key`. Resolves 0 when it may (the start is
   * logged), otherwise the ms until it should ask again. With `withdrawMs`, the task's latest start
   * admitted within the last `withdrawMs` (which it did not use: the answer came too late) is removed
   * first, so that it asks again in its own place and wastes no room. Atomic across
   * processes.
   */
  acquire(key: string, uuid: string, rule: RateLimitRule, withdrawMs?: number): Promise<number>;
}

/**
 * How long a wake-up time is remembered after it passed, in ms: a task handed back that asks again
 * later than this is treated as a new request.
 */
export const WAKE_GRACE_MS = 60_000;

/**
 * How long after asking a worker may begin an admitted task, by default: a hundredth of the window (at
 * most 25 ms), which the achieved rate pays (up to 1 % below `max / perMs`). An answer slower than this
 * (a busy event loop, a slow link) is not used; the worker asks once more with room for the lag it saw.
 */
function defaultStartWithinMs(perMs: number): number {
  return Math.min(perMs / 100, 25);
}

/**
 * The rule a store applies for `limit`.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for a limit that is not a whole `max` ≥ 1 and a
 * `perMs` > 0.
 */
export function rateLimitRule(taskName: string, limit: RateLimit<never[]>): RateLimitRule {
  if (
    !Number.isSafeInteger(limit.max) ||
    limit.max < 1 ||
    !(limit.perMs > 0) ||
    !Number.isFinite(limit.perMs)
  ) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Task "${taskName}" has an invalid rateLimit (max ${limit.max}, perMs ${limit.perMs}); give a whole max ≥ 1 and a finite perMs > 0.`,
    );
  }
  return { max: limit.max, perMs: limit.perMs, startWithinMs: defaultStartWithinMs(limit.perMs) };
}
