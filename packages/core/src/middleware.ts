import type { TaskResult } from './arg.js';
import type { Logger } from './logger.js';
import type { Headers, Signature } from './signature.js';
import type { TaskContext } from './task.js';
import type { AnyTaskDefinition } from './task-registry.js';

/**
 * Why a signature is being published: `'send'` by `Server.send*` (groups, chains and chords included),
 * `'schedule'` by a periodic schedule, `'callback'` by a worker sending an `onSuccess`/`onError` or
 * chord callback, `'retry'` by a worker re-sending a failed task.
 */
export type PublishOrigin = 'send' | 'schedule' | 'callback' | 'retry';

/** What a publish middleware sees: one signature on its way to the broker. */
export interface PublishContext {
  /** The signature about to be stored as `PENDING` and published; its UUID and headers are set. */
  readonly signature: Signature;
  /** The signature's headers (never `null` here): set a key to send it along with the task. */
  readonly headers: Headers;
  /** Why it is being published. */
  readonly origin: PublishOrigin;
  /** The server's logger. */
  readonly logger: Logger;
}

/**
 * Wraps the publication of one signature (Sidekiq's client middleware, Koa's shape). Call `next()` to
 * store `PENDING` and publish — it resolves once the broker has the task and rejects when storing or
 * publishing failed. Throw to refuse the send (the error reaches the caller of `send`); return without
 * calling `next()` to drop the signature silently (nothing is stored or published).
 *
 * @example
 * ```ts
 * const stampTenant: PublishMiddleware = async (ctx, next) => {
 *   ctx.headers.tenant = currentTenant()
 *   await next()
 * }
 * ```
 */
export type PublishMiddleware = (context: PublishContext, next: () => Promise<void>) => Promise<void>;

/**
 * What running a task came to, as a worker middleware reads it from `context.outcome`:
 * - `succeeded`: the value the task returned (or a middleware passed to `succeed`) and its results as stored;
 * - `failed`: what was thrown; `final` when no retry may follow (`fail()`, bad arguments, a value that
 *   cannot be stored), otherwise the task's retry rules decide (`retryCount`, `RetryLater`);
 * - `handedBack`: the delivery goes back to the broker after `delayMs`, nothing is stored.
 */
export type RunOutcome =
  | { readonly status: 'succeeded'; readonly value: unknown; readonly results: readonly TaskResult[] }
  | { readonly status: 'failed'; readonly error: unknown; readonly final: boolean }
  | { readonly status: 'handedBack'; readonly delayMs: number };

/**
 * What a worker middleware sees: the task's own context plus the definition, the outcome once known,
 * and three ways to decide the outcome itself.
 */
export interface TaskMiddlewareContext extends TaskContext {
  /** The registered task about to run. */
  readonly task: AnyTaskDefinition;
  /** The signature's headers (empty when the producer sent none). */
  readonly headers: Readonly<Headers>;
  /** `undefined` until decided; after `await next()`, what the run came to. */
  readonly outcome: RunOutcome | undefined;
  /**
   * Ends the task as `SUCCESS` with `value` as its result (as if the task had returned it); the task
   * function does not run if it has not yet.
   * @throws MachineryError `ERR_ENCODE` when `value` cannot be stored.
   */
  succeed(value?: unknown): void;
  /**
   * Ends the task as `FAILURE` with `reason`, without retries; its `onError` callbacks run. A running
   * task function is aborted: its `signal` fires with `ERR_TASK_ABORTED` — or with `reason` itself when
   * it is an error, which then is the outcome's `error` (its message is stored), so that other
   * middleware can tell why the task ended.
   */
  fail(reason: string | Error): void;
  /**
   * Hands the delivery back to the broker, to come again after `delayMs` (default 0): nothing is stored
   * and no retry is consumed — for pauses and rate limits. A running task function is aborted.
   */
  handBack(delayMs?: number): void;
}

/**
 * Wraps the execution of one task on a worker (Sidekiq's server middleware, Koa's shape). `await
 * next()` runs the task — argument conversion, `STARTED`, the task function with its timeout — and
 * resolves once `context.outcome` is known; it does not reject when the task fails (read the outcome).
 * The outcome is stored, callbacks are sent and the delivery is settled after the whole chain returns.
 *
 * Not calling `next()` skips the task: it ends as decided with `succeed`/`fail`/`handBack`, or, if the
 * middleware decided nothing, as `FAILURE` with a reason saying it was skipped (nobody waits forever).
 * Throwing ends the task as a failed attempt with that error (retry rules apply; a thrown `RetryLater`
 * retries later).
 *
 * @example
 * ```ts
 * const timing: TaskMiddleware = async (ctx, next) => {
 *   const start = performance.now()
 *   await next()
 *   ctx.logger.info({ ms: performance.now() - start, status: ctx.outcome?.status }, 'task ran')
 * }
 * ```
 */
export type TaskMiddleware = (context: TaskMiddlewareContext, next: () => Promise<void>) => Promise<void>;

/** The middleware of a Server, each list in registration order: the first is the outermost. */
export interface MiddlewareOptions {
  /** Around every publication: `send*`, schedules, and a worker's callbacks and retries. */
  publish?: readonly PublishMiddleware[];
  /** Around every task execution on this server's workers. */
  task?: readonly TaskMiddleware[];
}

/**
 * Nests `middleware` around `innermost` once, so that a call allocates one `next` per layer and no
 * array. The first middleware is the outermost. Returns `undefined` for an empty list: callers then
 * call `innermost` directly, with no wrapper at all on the hot path.
 */
export function composeMiddleware<C>(
  middleware: readonly ((context: C, next: () => Promise<void>) => Promise<void>)[] | undefined,
  innermost: (context: C) => Promise<void>,
): ((context: C) => Promise<void>) | undefined {
  if (middleware === undefined || middleware.length === 0) return undefined;
  let handler = innermost;
  for (let i = middleware.length - 1; i >= 0; i--) {
    const layer = middleware[i] as (context: C, next: () => Promise<void>) => Promise<void>;
    const inner = handler;
    handler = (context) => layer(context, () => inner(context));
  }
  return handler;
}
