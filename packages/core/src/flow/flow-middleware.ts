import { randomBytes } from 'node:crypto';
import { argValue } from '../arg.js';
import { invalidArgument } from '../errors.js';
import type { TaskMiddleware, TaskMiddlewareContext } from '../middleware.js';
import type { Signature } from '../signature.js';
import type { AnyTaskDefinition } from '../task-registry.js';
import type { FlowControl } from './flow-control.js';
import { type RateLimit, type RateLimitRule, type RateLimitStore, rateLimitRule } from './rate-limits.js';

const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_RETRY_DELAY_MS = 1000;
/** How long a task waits when the flow store could not be reached, before it asks again. */
const STORE_DOWN_DELAY_MS = 1000;

/** The hand-back of a task whose admission came back too late twice: it asks anew on its next delivery. */
const LATE_AGAIN_DELAY_MS = 1;

/** Reports a failure of the flow store (the worker's `error` event). */
export type FlowErrorReporter = (error: unknown, signature: Signature) => void;

/**
 * The worker middleware of flow control: a task with a `concurrencyLimit` first takes a slot (handed
 * back after `retryDelayMs` when none is free), a task with a `rateLimit` then asks for a start (handed
 * back until its wake-up time when over the limit, giving its slot back meanwhile); the slot is
 * renewed while the task runs and released after it. A hand-back consumes no retry and stores nothing,
 * and the worker runs other tasks meanwhile. When the store cannot be reached the task is handed back
 * too (never run unlimited, never failed for it). A task without limits passes straight through.
 */
export function flowTaskMiddleware(flow: FlowControl, reportError: FlowErrorReporter): TaskMiddleware {
  const rules = new WeakMap<RateLimit<never[]>, RateLimitRule>();
  return (context, next) => {
    const options = context.task.options;
    if (options.rateLimit === undefined && options.concurrencyLimit === undefined) return next();
    return limit(context, next);
  };

  async function limit(context: TaskMiddlewareContext, next: () => Promise<void>): Promise<void> {
    const task = context.task;
    const signature = context.signature;
    const rateLimit = task.options.rateLimit;
    const concurrencyLimit = task.options.concurrencyLimit;
    let args: unknown[];
    try {
      args = (signature.args ?? []).map(argValue);
    } catch {
      // Arguments the task cannot take: the run fails at once with the reason, whatever the limits.
      return next();
    }
    const concurrencyKey = concurrencyLimit && limitKey(task, concurrencyLimit, args);
    const rateKey = rateLimit && limitKey(task, rateLimit, args);

    let holder: string | undefined;
    const leaseMs = concurrencyLimit?.leaseMs ?? DEFAULT_LEASE_MS;
    try {
      if (concurrencyLimit !== undefined && concurrencyKey !== undefined) {
        const store = flow.concurrency;
        if (store === undefined) throw missingStore(task.name, 'concurrencyLimit', 'concurrency');
        const candidate = `${signature.uuid}:${randomBytes(6).toString('hex')}`;
        if (!(await store.acquire(concurrencyKey, candidate, concurrencyLimit.max, leaseMs))) {
          context.handBack(jittered(concurrencyLimit.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS));
          return;
        }
        holder = candidate;
      }
      if (rateLimit !== undefined && rateKey !== undefined) {
        const store = flow.rateLimits;
        if (store === undefined) throw missingStore(task.name, 'rateLimit', 'rateLimits');
        let rule = rules.get(rateLimit);
        if (rule === undefined) {
          rule = rateLimitRule(task.name, rateLimit);
          rules.set(rateLimit, rule);
        }
        const waitMs = await admit(store, rateKey, signature.uuid, rule);
        if (waitMs > 0) {
          await giveBack(concurrencyKey, holder, signature);
          context.handBack(waitMs);
          return;
        }
      }
    } catch (err) {
      reportError(err, signature);
      await giveBack(concurrencyKey, holder, signature);
      context.handBack(STORE_DOWN_DELAY_MS);
      return;
    }
    if (holder === undefined || concurrencyKey === undefined) return next();

    const held = holder;
    const renewal = setInterval(() => {
      flow.concurrency?.renew(concurrencyKey, held, leaseMs).then(
        (kept) => {
          if (!kept) {
            context.logger.warn(
              { taskUUID: signature.uuid, taskName: signature.name, key: concurrencyKey },
              'concurrency slot lost (its lease lapsed before renewal); another task may take it',
            );
          }
        },
        (err) => reportError(err, signature),
      );
    }, leaseMs / 3);
    renewal.unref();
    try {
      await next();
    } finally {
      clearInterval(renewal);
      await giveBack(concurrencyKey, held, signature);
    }
  }

  /**
   * Asks the store for a start and resolves 0 only when the task may begin now: the store logs a start
   * at the latest moment it may begin (`startWithinMs` after the admission), so an answer that took
   * longer than that to be read (a busy event loop, a slow link) is not used — begun now, the task
   * would start later than the store counts it and could share a window with the next window's starts.
   * It asks once more, withdrawing the start it did not use and with room for twice the lag it saw; an
   * answer late again is handed back at once to ask anew. Otherwise, the wait to hand back.
   */
  async function admit(store: RateLimitStore, key: string, uuid: string, rule: RateLimitRule) {
    let asked = performance.now();
    let waitMs = await store.acquire(key, uuid, rule);
    let lagMs = performance.now() - asked;
    if (waitMs > 0 || lagMs <= (rule.startWithinMs ?? 0)) return waitMs;
    const wider: RateLimitRule = { ...rule, startWithinMs: Math.ceil(2 * lagMs) };
    asked = performance.now();
    // The unused start was logged at most lagMs ago, at most startWithinMs ahead of its admission.
    waitMs = await store.acquire(key, uuid, wider, Math.ceil(lagMs) + 1);
    lagMs = performance.now() - asked;
    if (waitMs > 0) return waitMs;
    return lagMs <= (wider.startWithinMs ?? 0) ? 0 : LATE_AGAIN_DELAY_MS;
  }

  async function giveBack(key: string | undefined, holder: string | undefined, signature: Signature) {
    if (key === undefined || holder === undefined) return;
    try {
      await flow.concurrency?.release(key, holder);
    } catch (err) {
      // The lease lapses by itself.
      reportError(err, signature);
    }
  }
}

/** The store key of a limit: the task name, and the limit's key of the arguments. */
function limitKey(
  task: AnyTaskDefinition,
  limit: { key?(...args: never[]): string },
  args: unknown[],
): string {
  if (limit.key === undefined) return task.name;
  return `${task.name}:${(limit.key as (...a: unknown[]) => string)(...args)}`;
}

/** Between half and one and a half of `ms`, so that tasks waiting together do not return together. */
function jittered(ms: number): number {
  return Math.max(1, Math.round(ms * (0.5 + Math.random())));
}

/** The error for a task whose limit has no store to be counted in. */
export function missingStore(taskName: string, option: string, store: string): Error {
  return invalidArgument(
    `Task "${taskName}" has a ${option} but the server has no flow.${store} store; pass one to new Server({ flow }), e.g. new RedisFlowControl() from @machinery/backend-redis.`,
  );
}
