import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  decodeSignature,
  errorText,
  type Logger,
  type NackOptions,
  type Signature,
  TaskStatus,
} from '@machinery/core';
import { isAbort, isQueueMissing } from './errors.js';
import type { Heartbeat, Lease } from './heartbeat.js';
import { type ResolvedOptions, SQS_MAX_MESSAGE_BYTES, SQS_MAX_VISIBILITY_SECONDS } from './options.js';
import { isFifoQueue, type QueueResolver } from './queues.js';

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly client: SQSClient;
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly heartbeat: Heartbeat;
  readonly resolver: QueueResolver;
  /** Aborted by `close()`: cancels in-flight long polls. */
  readonly closeSignal: AbortSignal;
  readonly closed: boolean;
  /** Deletes a held message (batched). `false` when SQS says the receipt handle is stale. */
  deleteMessage(lease: Lease): Promise<boolean>;
  /** Sets a held message's visibility timeout; `false` when the receipt handle is stale. */
  changeVisibility(lease: Lease, seconds: number): Promise<boolean>;
  /** Gives back many held messages at once (visibility 0), best effort. */
  release(leases: readonly Lease[]): Promise<void>;
  /** Copies the message to the dead-letter queue with `reason`, then deletes it. */
  deadLetter(lease: Lease, message: Message, reason: string): Promise<boolean>;
  /** Keeps a settled message invisible for `ms` more (< 1 s), then gives it back (visibility 0). */
  releaseLater(lease: Lease, ms: number): void;
  /** Re-sends the message with `delaySeconds` and deletes the original (a delay hop). */
  hop(lease: Lease, message: Message, delaySeconds: number): Promise<void>;
  /** Warns (once per broker) that `stopTaskDeletionOnError` is set but no `outcomes` reader is. */
  warnNoOutcomes(signature: Signature): void;
}

/** Messages due within this many ms are held in memory until their ETA instead of hopping. */
export const HOLD_MS = 1000;

/**
 * The receive loop of one `consume()`: long polls for up to `min(10, free slots)` messages, never
 * holding more than `concurrency + prefetch` unsettled ones, and turns each into a {@link Delivery}.
 */
export class SqsConsumer implements Consumer {
  private active = true;
  private unsettled = 0;
  private wakeUp: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private readonly holds = new Map<NodeJS.Timeout, (due: boolean) => void>();
  private readonly capacity: number;
  private readonly fifo: boolean;

  constructor(
    private readonly host: ConsumerHost,
    readonly queue: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ) {
    // Go deadlocks with concurrency 0; we always take at least one message.
    this.capacity = Math.max(1, Math.floor(options.concurrency) + Math.max(0, Math.floor(options.prefetch)));
    this.fifo = isFifoQueue(queue);
  }

  /** Starts the receive loop in the background. */
  start(): void {
    this.loop().catch((err: unknown) => {
      // Not expected (every step handles its own errors); never let it crash the process.
      this.host.logger.error({ queue: this.queue, err }, `SQS receive loop ended: ${errorText(err)}`);
    });
  }

  /**
   * Stops fetching at once. A long poll still in flight is left to finish and whatever it brings is
   * given back immediately (visibility 0) rather than cut off, which would hide those messages for a
   * whole visibility timeout. Deliveries already handed over stay valid and keep their heartbeat.
   */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.wake();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    for (const [timer, resolve] of this.holds) {
      clearTimeout(timer);
      resolve(false);
    }
    this.holds.clear();
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wakeUp = undefined;
        resolve();
      }, ms);
      // stop() wakes a sleeping loop too.
      this.wakeUp = () => {
        if (this.sleepTimer) clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        resolve();
      };
    });
  }

  private running(): boolean {
    return this.active && !this.host.closed;
  }

  private async loop(): Promise<void> {
    const { client, options, logger } = this.host;
    let failures = 0;
    while (this.running()) {
      const free = this.capacity - this.unsettled;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        continue;
      }
      let queueUrl: string;
      let messages: Message[];
      try {
        queueUrl = await this.host.resolver.url(this.queue);
        const out = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, free),
            WaitTimeSeconds: options.waitTimeSeconds,
            VisibilityTimeout: options.visibilitySeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'MessageGroupId'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.host.closeSignal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (this.host.closed || isAbort(err)) return;
        failures++;
        if (isQueueMissing(err)) this.host.resolver.forget(this.queue);
        const delayMs = Math.min(30_000, 100 * 2 ** Math.min(failures, 9)) * (0.5 + Math.random());
        logger.error(
          { queue: this.queue, err, retryInMs: Math.round(delayMs) },
          `SQS ReceiveMessage failed (${errorText(err)}); retrying`,
        );
        await this.sleep(delayMs);
        continue;
      }
      if (!this.running()) {
        // Stopped during the long poll: hand the messages straight back (closed: they come back by themselves).
        if (!this.host.closed && messages.length > 0) {
          await this.host.release(messages.map((m) => this.lease(queueUrl, m)));
        }
        return;
      }
      for (const m of messages) this.accept(queueUrl, m);
      if (messages.length === 0 && options.waitTimeSeconds === 0) {
        // Short polling: Go spins on an empty queue; we pause.
        await this.sleep(options.emptyReceiveDelayMs);
      }
    }
  }

  private lease(queueUrl: string, m: Message): Lease {
    return { queue: this.queue, queueUrl, receiptHandle: m.ReceiptHandle ?? '', lost: false };
  }

  private accept(queueUrl: string, m: Message): void {
    if (!m.ReceiptHandle) return;
    const lease = this.lease(queueUrl, m);
    this.unsettled++;
    this.host.heartbeat.add(lease);
    this.handle(lease, m).catch((err: unknown) => {
      // The message stays in SQS and comes back after its visibility timeout.
      this.host.logger.error(
        { queue: this.queue, err, messageId: m.MessageId },
        `Could not process an SQS message (${errorText(err)}); it will be received again`,
      );
      this.finish(lease);
    });
  }

  private finish(lease: Lease): void {
    this.host.heartbeat.remove(lease);
    this.unsettled--;
    this.wake();
  }

  private async handle(lease: Lease, m: Message): Promise<void> {
    const { options } = this.host;
    const count = Number(m.Attributes?.ApproximateReceiveCount ?? '1') || 1;
    let sig: Signature;
    try {
      sig = decodeSignature(m.Body ?? '', { maxBytes: SQS_MAX_MESSAGE_BYTES });
    } catch (err) {
      await this.host.deadLetter(lease, m, `Undecodable message: ${errorText(err)}`);
      this.finish(lease);
      return;
    }
    if (count > options.maxReceiveCount) {
      await this.host.deadLetter(
        lease,
        m,
        `Task "${sig.name}" (${sig.uuid}) was received ${count} times without being acknowledged (maxReceiveCount ${options.maxReceiveCount})`,
      );
      this.finish(lease);
      return;
    }
    const remaining = sig.eta === null ? 0 : sig.eta.getTime() - Date.now();
    if (remaining > HOLD_MS) {
      const seconds = Math.ceil(remaining / 1000);
      if (this.fifo) {
        // FIFO queues have no per-message delay: keep the message invisible until its ETA (this holds
        // back its message group, as FIFO order demands). No heartbeat may shorten that again.
        this.host.heartbeat.remove(lease);
        await this.host.changeVisibility(lease, Math.min(seconds, SQS_MAX_VISIBILITY_SECONDS));
      } else {
        await this.host.hop(lease, m, Math.min(seconds, options.maxDelaySeconds));
      }
      this.finish(lease);
      return;
    }
    if (remaining > 0 && !(await this.hold(remaining))) {
      await this.giveBack(lease);
      return;
    }
    if (!this.running()) {
      await this.giveBack(lease);
      return;
    }
    this.deliver(lease, m, sig, count);
  }

  private async giveBack(lease: Lease): Promise<void> {
    this.host.heartbeat.remove(lease);
    try {
      if (!this.host.closed) await this.host.release([lease]);
    } finally {
      this.finish(lease);
    }
  }

  /** Waits `ms` (≤ 1 s, the last stretch to the ETA); resolves `false` when stopped meanwhile. */
  private hold(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.holds.delete(timer);
        resolve(true);
      }, ms);
      this.holds.set(timer, resolve);
    });
  }

  /**
   * Whether an acknowledged task flagged `stopTaskDeletionOnError` ended in FAILURE, so that its
   * message stays in SQS (Go Machinery's meaning). The Worker acknowledges after storing the outcome,
   * so the stored state is the outcome. When it cannot be read, the message is kept too: it comes back
   * and is acknowledged again, which is safer than deleting a failure.
   */
  private async keepFailed(sig: Signature): Promise<boolean> {
    const outcomes = this.host.options.outcomes;
    if (!outcomes) {
      this.host.warnNoOutcomes(sig);
      return false;
    }
    try {
      return (await outcomes.getState(sig.uuid))?.state === TaskStatus.FAILURE;
    } catch (err) {
      this.host.logger.warn(
        { queue: this.queue, taskUUID: sig.uuid, err: errorText(err) },
        'Could not read the outcome of a task flagged stopTaskDeletionOnError; its message stays in SQS',
      );
      return true;
    }
  }

  private deliver(lease: Lease, m: Message, sig: Signature, count: number): void {
    const host = this.host;
    sig.sqsReceiptHandle = lease.receiptHandle;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    const delivery: Delivery = {
      signature: sig,
      queue: this.queue,
      attempt: count,
      redelivered: count > 1,
      token: lease.receiptHandle,
      ack: async () => {
        if (!settle()) return false;
        try {
          // Read while the heartbeat still holds the message.
          const keep = sig.stopTaskDeletionOnError && (await this.keepFailed(sig));
          host.heartbeat.remove(lease);
          if (host.closed) return false;
          // Left in SQS, a failed task comes back once its visibility times out (Go's redrive).
          if (keep) return !lease.lost;
          return (await host.deleteMessage(lease)) && !lease.lost;
        } finally {
          this.finish(lease);
        }
      },
      nack: async (o: NackOptions = {}) => {
        if (!settle()) return false;
        const delayMs = o.requeue === false ? 0 : (o.delayMs ?? 0);
        if (delayMs > 0 && delayMs < 1000 && !host.closed) {
          // SQS counts whole seconds; rounding a sub-second back-off up to 1 s would erase the jitter
          // the Worker adds so that two workers do not hand tasks to each other in lockstep. The slot
          // is free at once; the message stays invisible (heartbeat) until released after `delayMs`.
          this.unsettled--;
          this.wake();
          host.releaseLater(lease, delayMs);
          return !lease.lost;
        }
        // Stop extending first: an extension landing after the release would hide the message again.
        host.heartbeat.remove(lease);
        try {
          if (host.closed) return false;
          if (o.requeue === false) return await host.deadLetter(lease, m, o.reason ?? 'rejected');
          const seconds = Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.ceil(delayMs / 1000));
          return (await host.changeVisibility(lease, seconds)) && !lease.lost;
        } finally {
          this.finish(lease);
        }
      },
      extendLease: async (ms: number) => {
        if (settled || lease.lost || host.closed) return false;
        const seconds = Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
        return host.changeVisibility(lease, seconds);
      },
    };
    try {
      this.onDelivery(delivery);
    } catch (err) {
      host.logger.error({ queue: this.queue, err }, 'The delivery handler threw; the message goes back');
      delivery.nack({ requeue: true }).catch(() => {});
    }
  }
}
