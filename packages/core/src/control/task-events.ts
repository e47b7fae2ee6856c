import type { Unsubscribe } from './revocations.js';

/** What happened to a task. */
export type TaskEventType =
  | 'sent'
  | 'received'
  | 'started'
  | 'succeeded'
  | 'failed'
  | 'retried'
  | 'revoked'
  | 'deadLettered';

/** One thing that happened to one task, as any process following the stream reads it. */
export interface TaskEvent {
  readonly type: TaskEventType;
  readonly taskUUID: string;
  readonly taskName: string;
  /** The queue (routing key) it travels on; empty when unknown. */
  readonly queue: string;
  /** When it happened (ms since the epoch). */
  readonly at: number;
  /** The worker it happened on (absent for `sent`). */
  readonly workerId?: string;
  /** `failed`, `retried`, `revoked`, `deadLettered`: why. */
  readonly error?: string;
  /** `retried`: when it runs again, in ms. */
  readonly delayMs?: number;
  /** `succeeded`, `failed`: time in the task function, in ms. */
  readonly durationMs?: number;
}

/**
 * A stream of task events across processes. Publishers send batches (the Worker and Server batch per
 * tick and drop, with a counter, rather than block a task); followers see events from the moment they
 * subscribe, in publication order per publisher.
 */
export interface TaskEventStream {
  /** Appends `events` in order. */
  publish(events: readonly TaskEvent[]): Promise<void>;
  /** Calls `listener` with every event published from now on. Resolves once the listener is live. */
  subscribe(listener: (event: TaskEvent) => void): Promise<Unsubscribe>;
}
