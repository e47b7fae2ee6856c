import type { PurgeCounts, PurgeOptions, PurgeSupport } from './purge.js';
import type { Signature } from './signature.js';

/**
 * What a broker can do. The Worker adapts to it and the conformance suites skip — visibly — only
 * what a broker declares it lacks.
 */
export interface BrokerCapabilities {
  /** Delivery waits for a signature's ETA without help from the Worker. */
  readonly delays: boolean;
  /** Longest delay the broker schedules in one step, in ms (`Infinity` when unbounded). */
  readonly maxDelayMs: number;
  /** `priority` orders deliveries within a queue. */
  readonly priorities: boolean;
  /** FIFO message groups (`brokerMessageGroupId`). */
  readonly fifoGroups: boolean;
  /**
   * A delivery whose broker instance went away unsettled (closed, crashed, connection lost) is
   * delivered again after the redelivery timeout.
   */
  readonly redelivery: boolean;
  /**
   * `Delivery.extendLease` works. The broker keeps held leases alive by itself either way (see
   * {@link Delivery}); this is for callers that want to move a deadline explicitly.
   */
  readonly leaseRenewal: boolean;
  /**
   * A requeued delivery counts toward a delivery limit of the broker's own (SQS `maxReceiveCount`, a
   * RabbitMQ quorum queue's `deliveryLimit`), past which the broker dead-letters the task. The Worker
   * then hands a delivery back (a middleware's `handBack`, e.g. a full concurrency limit) by
   * publishing a copy due after the delay and acknowledging the delivery, so waiting never uses up
   * the limit.
   */
  readonly requeueCountsTowardLimit?: boolean;
  /**
   * How long a delivery stays leased without a renewal, in ms, for a broker whose leases this process
   * renews on a timer (the Redis broker). The Worker warns when its event loop is blocked for longer
   * than a third of it. Absent when no timer of this process keeps deliveries.
   */
  readonly leaseMs?: number;
  /** `publishMany` is all-or-none. */
  readonly atomicBulkPublish: boolean;
  /** `deadLetters()` and `requeueDeadLetters()` work. */
  readonly deadLetterInspection: boolean;
  /** `pendingTasks()` works. */
  readonly pendingInspection: boolean;
  /** `delayedTasks()` works. */
  readonly delayedInspection: boolean;
  /**
   * `purge()` works, for the parts marked `true`. Absent when the broker has no `purge()` (brokers
   * written before it existed need not declare it).
   */
  readonly purge?: PurgeSupport;
}

/** How a delivery is settled negatively. */
export interface NackOptions {
  /** Put the task back on its queue (default `true`); `false` moves it to the dead-letter store. */
  requeue?: boolean;
  /** With `requeue`, make it visible again only after this many ms. */
  delayMs?: number;
  /** Why: recorded with a dead letter, logged otherwise. */
  reason?: string;
}

/**
 * One task handed to a consumer, held under a lease until it is settled.
 *
 * The lease contract, which every broker keeps and `brokerSuite` checks:
 * - **The broker keeps every unsettled delivery's lease alive while the broker instance that made it
 *   is open** — while its consumer runs and after `Consumer.stop()` — however long the task runs. The
 *   Redis broker renews its leases, the SQS broker runs a visibility heartbeat, the AMQP broker holds
 *   the message by its channel. The Worker never calls {@link Delivery.extendLease}: no other consumer
 *   gets a task while its holder still runs it.
 * - After `close()`, a crash or a lost connection, unsettled deliveries are delivered again once the
 *   redelivery timeout (lease, visibility timeout) has passed — or at once where the service notices.
 * - Exactly one of `ack()` / `nack()` settles a delivery, even when calls race. Settling twice, or
 *   after the lease was lost (the instance was closed, or the task went to another consumer), is a
 *   no-op that resolves `false` — never an error, and never a change to the task another consumer
 *   now holds: the lease {@link Delivery.token} fences stale deliveries.
 * - `attempt` counts deliveries of this message, across requeues and lost leases.
 */
export interface Delivery {
  /** The decoded task message. */
  readonly signature: Signature;
  /** The queue it was consumed from. */
  readonly queue: string;
  /**
   * How many times the broker has handed out this message: 1 the first time, one more for each
   * redelivery it knows of (crash, lost lease, requeue). A retry is a new message and starts at 1.
   */
  readonly attempt: number;
  /** True when the broker knows this message may have been delivered before (crash, lost lease). */
  readonly redelivered: boolean;
  /**
   * Fencing token of this delivery's lease. A newer delivery of the same task has a different token;
   * task code can pass it to external systems so they can reject writes from a stale attempt.
   */
  readonly token: string;
  /**
   * The task is done (its outcome is stored): remove it from the broker. Resolves `true` when this call
   * settled the delivery, `false` when it was settled already or its lease was lost.
   */
  ack(): Promise<boolean>;
  /**
   * Give the task back (requeue, optionally delayed) or dead-letter it (`requeue: false`). Resolves as
   * {@link Delivery.ack} does; a `false` nack changes nothing.
   */
  nack(options?: NackOptions): Promise<boolean>;
  /**
   * Extend the lease by `ms` from now; resolves `false` when the lease was already lost. Not needed to
   * keep a running task's lease: the broker does that itself.
   */
  extendLease?(ms: number): Promise<boolean>;
}

/** Flow control for {@link Broker.consume}. */
export interface ConsumeOptions {
  /** Tasks the consumer runs at once. */
  concurrency: number;
  /** Deliveries the broker may hand over beyond free slots. Unsettled deliveries never exceed concurrency + prefetch. */
  prefetch: number;
}

/** A running consumption started by {@link Broker.consume}. */
export interface Consumer {
  /**
   * Stop fetching. Resolves once no further delivery will be made — including deliveries already
   * fetched but not yet handed over, which are handed over before or given back — and unsettled
   * deliveries stay valid, their leases kept alive, until they are settled.
   */
  stop(): Promise<void>;
}

/** A message that could not be processed, kept with the reason. */
export interface DeadLetter {
  /** The raw message body as received. */
  readonly body: string;
  /** Why it was dead-lettered. */
  readonly reason: string;
  /** The queue it came from. */
  readonly queue: string;
  /** When it was dead-lettered, if the broker records it. */
  readonly at: Date | null;
}

/**
 * Moves task messages from producers to workers. Implementations never run user code.
 * A third-party broker implements this, keeps the lease contract described at {@link Delivery}, and
 * runs `brokerSuite` from `@machinery/testing` (guide: `docs/writing-an-adapter.md`).
 */
export interface Broker {
  readonly capabilities: BrokerCapabilities;
  /** The queue used when a signature has no routing key. */
  readonly defaultQueue: string;
  /**
   * Publishes one task: to `routingKey` (defaulted to {@link defaultQueue} and written into the
   * signature, as Go does), delayed until `eta` when it is in the future.
   */
  publish(signature: Signature): Promise<void>;
  /** Publishes many tasks; all-or-none when `capabilities.atomicBulkPublish`. */
  publishMany(signatures: readonly Signature[]): Promise<void>;
  /**
   * Starts delivering tasks from `queue` to `onDelivery`, never holding more than
   * `concurrency + prefetch` unsettled deliveries. Resolves once consuming has started.
   */
  consume(
    queue: string,
    onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer>;
  /**
   * Tasks waiting in `queue` (default queue when omitted), oldest first, without removing them. Tasks
   * in flight (delivered, unsettled) are not waiting and are not listed.
   */
  pendingTasks(queue?: string, limit?: number): Promise<Signature[]>;
  /** Tasks waiting for their ETA, earliest first. */
  delayedTasks(limit?: number): Promise<Signature[]>;
  /** Messages that could not be processed, oldest first. */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Moves dead letters back to their queues; returns how many moved. */
  requeueDeadLetters(limit?: number): Promise<number>;
  /**
   * Removes, from `queue` only, its waiting tasks, its delayed tasks and/or its dead letters — the
   * parts `options` selects (at least one) — and returns how many of each it removed. Other queues
   * are untouched, and the broker works normally afterwards.
   *
   * - **Tasks a worker holds are not removed**: a delivered, unsettled task finishes (or fails, or is
   *   redelivered after a crash) as usual. Only what waits for a worker is removed.
   * - **Result states are not changed**: the broker knows no backend, so a purged task keeps the
   *   state its producer stored (normally PENDING) and `AsyncResult.get()` waits until its timeout —
   *   as with Celery's `purge`. Purge the backend's state yourself if callers wait on it.
   * - Not atomic across parts, and tasks published while it runs may or may not be removed.
   *
   * Present when `capabilities.purge` is declared; a part the broker cannot remove is declared
   * `false` there and rejects with `ERR_INVALID_ARGUMENT` before anything is removed.
   * Implementations validate with core's `checkPurge()`.
   *
   * @example
   * ```ts
   * const removed = await broker.purge?.('emails', { pending: true, delayed: true })
   * ```
   */
  purge?(queue: string, options: PurgeOptions): Promise<PurgeCounts>;
  /**
   * Releases connections and timers, and ends every consumer of this instance: once it resolves, none
   * of them gets another delivery. Idempotent. Unsettled deliveries can no longer be settled (they
   * resolve `false`) and are delivered again after the redelivery timeout.
   */
  close(): Promise<void>;
}
