import { DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@machinery/core';
import { sqsError } from './errors.js';

interface Pending {
  readonly receiptHandle: string;
  readonly resolve: (deleted: boolean) => void;
  readonly reject: (err: unknown) => void;
}

/** SQS takes at most ten entries per batch request. */
export const SQS_BATCH_SIZE = 10;

/**
 * Gathers acknowledgements for a few ms and deletes them with `DeleteMessageBatch`, ten per request:
 * a busy worker pays one round trip per ten tasks instead of one per task.
 */
export class DeleteBatcher {
  private readonly pending = new Map<string, { queue: string; items: Pending[] }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly client: SQSClient,
    private readonly windowMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Deletes one message. Resolves `true` once SQS confirmed it, `false` when SQS reported the receipt
   * handle invalid; rejects when the request failed.
   */
  delete(queueUrl: string, queue: string, receiptHandle: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let entry = this.pending.get(queueUrl);
      if (!entry) {
        entry = { queue, items: [] };
        this.pending.set(queueUrl, entry);
      }
      entry.items.push({ receiptHandle, resolve, reject });
      if (entry.items.length >= SQS_BATCH_SIZE) this.send(queueUrl);
      else this.timer ??= setTimeout(() => this.flushAll(), this.windowMs);
    });
  }

  /** Sends everything gathered so far and waits until every delete request has answered. */
  async flush(): Promise<void> {
    this.flushAll();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const queueUrl of [...this.pending.keys()]) this.send(queueUrl);
  }

  private send(queueUrl: string): void {
    const entry = this.pending.get(queueUrl);
    if (!entry) return;
    const batch = entry.items.splice(0, SQS_BATCH_SIZE);
    if (entry.items.length === 0) this.pending.delete(queueUrl);
    if (batch.length === 0) return;
    const request = this.deleteBatch(queueUrl, entry.queue, batch);
    this.inflight.add(request);
    void request.finally(() => this.inflight.delete(request));
    if (entry.items.length >= SQS_BATCH_SIZE) this.send(queueUrl);
  }

  private async deleteBatch(queueUrl: string, queue: string, batch: Pending[]): Promise<void> {
    try {
      const out = await this.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((p, i) => ({ Id: String(i), ReceiptHandle: p.receiptHandle })),
        }),
      );
      const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
      batch.forEach((p, i) => {
        const f = failed.get(String(i));
        if (f)
          this.logger.debug({ queue, code: f.Code, reason: f.Message }, 'SQS refused to delete a message');
        p.resolve(f === undefined);
      });
    } catch (err) {
      const wrapped = sqsError(err, 'DeleteMessageBatch', queue);
      for (const p of batch) p.reject(wrapped);
    }
  }
}
