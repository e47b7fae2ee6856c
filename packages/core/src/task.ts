import type { ArgType, TypedArg } from './arg.js';
import { type Arg, argValue } from './arg.js';
import { invalidArgument } from './errors.js';
import type { ConcurrencyLimit } from './flow/concurrency-limits.js';
import type { RateLimit } from './flow/rate-limits.js';
import { withUnique } from './flow/unique-claim.js';
import type { UniqueTask } from './flow/unique-tasks.js';
import type { Logger } from './logger.js';
import type { RetryStrategy } from './retry.js';
import { type Signature, type SignatureOptions, signature } from './signature.js';

/** What a running task can see about itself. Available as `this` inside a task function. */
export interface TaskContext {
  /** The signature being run (treat as read-only). */
  readonly signature: Signature;
  /**
   * How many times the broker has handed out this message: 1 the first time, one more for each
   * redelivery (a crashed or stopped worker, a lost lease, a hand-back). A retry is sent as a new
   * message and starts at 1 again; `signature.retryCount` counts the retries left.
   */
  readonly attempt: number;
  /**
   * Aborted on timeout, when the worker is forced to stop, and when a worker middleware ends the task
   * (`fail`, `handBack`, `succeed`), and when the task is revoked (with a control plane).
   */
  readonly signal: AbortSignal;
  /** A child of the worker's logger bound to this task. */
  readonly logger: Logger;
  /** The delivery's fencing token; pass it to systems that should reject stale attempts. */
  readonly token: string;
  /** Reports progress; the worker emits it as a `progress` event and, with a control plane, stores it. */
  progress(data: unknown): void;
}

const TUPLE = Symbol.for('machinery.tuple');

/** Several results from one task, as a Go function returning `(a, b, error)`. Create with {@link tuple}. */
export interface Tuple<T extends readonly unknown[]> {
  readonly [TUPLE]: true;
  readonly values: T;
}

/**
 * Returns several results from a task; `AsyncResult.get()` then resolves to the array.
 *
 * @example
 * ```ts
 * const split = defineTask('split', (s: string) => tuple(...s.split(',')))
 * ```
 */
export function tuple<T extends readonly unknown[]>(...values: T): Tuple<T> {
  return { [TUPLE]: true, values };
}

/** True when `v` was made by {@link tuple}. */
export function isTuple(v: unknown): v is Tuple<readonly unknown[]> {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[TUPLE] === true;
}

/** The value `AsyncResult.get()` resolves to for a task returning `R`. */
export type ResultOf<R> = Awaited<R> extends Tuple<infer T> ? T : Awaited<R>;

/** A task function: positional arguments in, a value (or a promise) out; `this` is the context. */
export type TaskFunction<A extends unknown[] = unknown[], R = unknown> = (this: TaskContext, ...args: A) => R;

/** Per-task settings; `A` are the task function's parameters (for the flow-control keys). */
export interface TaskOptions<A extends unknown[] = unknown[]> {
  /** Abort the task (and treat it as failed) after this many ms. */
  timeoutMs?: number;
  /** Default `retryCount` for signatures made by this definition. */
  retryCount?: number;
  /** Back-off for this task's retries, overriding the worker's. */
  retry?: RetryStrategy;
  /** Default routing key (queue) for signatures made by this definition. */
  routingKey?: string;
  /** Expected Go types of the arguments; a message with other types fails with a clear reason. */
  argTypes?: readonly ArgType[];
  /**
   * At most `max` starts per `perMs` across every worker sharing the server's `flow.rateLimits` store,
   * per task name (and per `key` of the arguments). A task over its limit is handed back to the broker
   * until its wake-up time (see `RateLimitStore`): it consumes no retry and other tasks run meanwhile.
   */
  rateLimit?: RateLimit<A>;
  /**
   * At most `max` runs at once across every worker sharing the server's `flow.concurrency` store, per
   * task name (and per `key` of the arguments), each slot held under a renewed lease.
   */
  concurrencyLimit?: ConcurrencyLimit<A>;
  /**
   * Producer-side deduplication through the server's `flow.unique` store: a send within `forMs` of an
   * earlier one with the same key publishes nothing and returns the earlier task's result.
   */
  unique?: UniqueTask<A>;
}

/** Each parameter accepts its value or an `arg()` override of it. */
export type SignatureArgs<A extends unknown[]> = { [K in keyof A]: A[K] | TypedArg<A[K]> };

/** A signature that remembers the result type of its task. */
export type TaskSignature<R> = Signature & { readonly __result?: R };

/** A named, typed task: register it on a Server, make signatures with `signature()`. */
export interface TaskDefinition<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  readonly fn: TaskFunction<A, R>;
  readonly options: TaskOptions<A>;
  /** A signature calling this task with `args` (types checked against the function). */
  signature(...args: SignatureArgs<A>): TaskSignature<ResultOf<R>>;
  /** Like `signature`, with signature fields (ETA, retries, routing key…) set. */
  signatureWith(options: SignatureOptions, ...args: SignatureArgs<A>): TaskSignature<ResultOf<R>>;
}

/**
 * Defines a task. The name is what travels on the wire; Go workers register functions under the
 * same names.
 *
 * @example
 * ```ts
 * const add = defineTask('add', (a: number, b: number) => a + b)
 * server.register(add)
 * const result = await server.send(add.signature(1, 2))
 * const sum: number = await result.get()
 * ```
 */
export function defineTask<A extends unknown[], R>(
  name: string,
  fn: TaskFunction<A, R>,
  options: TaskOptions<A> = {},
): TaskDefinition<A, R> {
  if (typeof name !== 'string' || name === '') throw invalidArgument('A task needs a non-empty name.');
  if (typeof fn !== 'function') throw invalidArgument(`Task "${name}" must be a function.`);
  const defaults: SignatureOptions = {};
  if (options.retryCount !== undefined) defaults.retryCount = options.retryCount;
  if (options.routingKey !== undefined) defaults.routingKey = options.routingKey;
  const unique = options.unique;
  if (unique === undefined) {
    return {
      name,
      fn,
      options,
      signature: (...args) => signature(name, args, { ...defaults }),
      signatureWith: (sigOptions, ...args) => signature(name, args, { ...defaults, ...sigOptions }),
    };
  }
  if (!(unique.forMs > 0)) {
    throw invalidArgument(`Task "${name}" has unique.forMs ${unique.forMs}; give a duration in ms > 0.`);
  }
  const claimed = (sig: Signature): Signature => {
    const key =
      unique.key === undefined
        ? JSON.stringify(sig.args ?? [])
        : unique.key(...((sig.args ?? []).map((a: Arg) => argValue(a)) as A));
    return withUnique(sig, { key, forMs: unique.forMs });
  };
  return {
    name,
    fn,
    options,
    signature: (...args) => claimed(signature(name, args, { ...defaults })),
    signatureWith: (sigOptions, ...args) => claimed(signature(name, args, { ...defaults, ...sigOptions })),
  };
}
