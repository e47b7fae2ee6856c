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
  /** A delivery not acknowledged in time (crashed consumer) is delivered again. */
  readonly redelivery: boolean;
  /** `Delivery.extendLease` works. */
  readonly leaseRenewal: boolean;
  /** `publishMany` is all-or-none. */
  readonly atomicBulkPublish: boolean;
  /** `deadLetters()` and `requeueDeadLetters()` work. */
  readonly deadLetterInspection: boolean;
  /** `pendingTasks()` works. */
  readonly pendingInspection: boolean;
  /** `delayedTasks()` works. */
  readonly delayedInspection: boolean;
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
 * One task handed to a consumer. Exactly one of `ack()` / `nack()` settles it; settling twice, or
 * after the lease was lost, is a no-op that resolves `false`.
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
  /** The task is done (its outcome is stored): remove it from the broker. */
  ack(): Promise<boolean>;
  /** Give the task back (requeue, optionally delayed) or dead-letter it (`requeue: false`). */
  nack(options?: NackOptions): Promise<boolean>;
  /** Extend the lease by `ms` from now; resolves `false` when the lease was already lost. */
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
  /** Stop fetching. Resolves once no further delivery will be made; unsettled deliveries stay valid. */
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
 * A third-party broker implements this and runs `brokerSuite` from `@machinery/testing`.
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
  /** Tasks waiting in `queue` (default queue when omitted), oldest first, without removing them. */
  pendingTasks(queue?: string, limit?: number): Promise<Signature[]>;
  /** Tasks waiting for their ETA, earliest first. */
  delayedTasks(limit?: number): Promise<Signature[]>;
  /** Messages that could not be processed, oldest first. */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Moves dead letters back to their queues; returns how many moved. */
  requeueDeadLetters(limit?: number): Promise<number>;
  /** Releases connections and timers. Idempotent. Unsettled deliveries are redelivered later. */
  close(): Promise<void>;
}
