import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Dictionary, errorText, type Logger } from '@machinery/core';
import { SQS_BATCH_SIZE } from './delete-batcher.js';
import { isStaleReceiptCode } from './errors.js';

/** One received, not yet settled message: the broker's side of a delivery's lease. */
export interface Lease {
  readonly queue: string;
  readonly queueUrl: string;
  readonly receiptHandle: string;
  /** Set once SQS said the receipt handle is no longer valid (the message went to someone else). */
  lost: boolean;
}

/**
 * Keeps every held message invisible: every half visibility timeout it extends all leases with
 * `ChangeMessageVisibilityBatch` (ten per request). A message whose worker dies is no longer extended
 * and comes back after at most one visibility timeout.
 */
export class Heartbeat {
  /** By receipt handle. Not a `Set`: one comes and goes per task (see core's `Dictionary`). */
  private readonly leases = new Dictionary<Lease>();
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  private stopped = false;

  constructor(
    private readonly client: SQSClient,
    private readonly visibilitySeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Starts extending `lease`. */
  add(lease: Lease): void {
    if (this.stopped) return;
    this.leases.set(lease.receiptHandle, lease);
    this.timer ??= setInterval(() => void this.beat(), (this.visibilitySeconds * 1000) / 2);
  }

  /** Stops extending `lease` (settled, or given back). */
  remove(lease: Lease): void {
    if (this.leases.get(lease.receiptHandle) === lease) this.leases.delete(lease.receiptHandle);
    if (this.leases.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Stops for good: held messages come back after their visibility timeout (a "crash"). */
  stop(): void {
    this.stopped = true;
    this.leases.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    // A slow round trip must not stack up requests; the next tick extends again.
    if (this.beating) return;
    this.beating = true;
    try {
      const byQueue = new Map<string, Lease[]>();
      for (const lease of this.leases.values()) {
        const list = byQueue.get(lease.queueUrl) ?? [];
        list.push(lease);
        byQueue.set(lease.queueUrl, list);
      }
      const requests: Promise<void>[] = [];
      for (const [queueUrl, list] of byQueue) {
        for (let i = 0; i < list.length; i += SQS_BATCH_SIZE) {
          requests.push(this.extend(queueUrl, list.slice(i, i + SQS_BATCH_SIZE)));
        }
      }
      await Promise.all(requests);
    } finally {
      this.beating = false;
    }
  }

  private async extend(queueUrl: string, batch: Lease[]): Promise<void> {
    try {
      const out = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((l, i) => ({
            Id: String(i),
            ReceiptHandle: l.receiptHandle,
            VisibilityTimeout: this.visibilitySeconds,
          })),
        }),
      );
      for (const f of out.Failed ?? []) {
        const lease = batch[Number(f.Id)];
        if (!lease || this.stopped) continue;
        if (isStaleReceiptCode(f.Code, f.Message)) {
          lease.lost = true;
          this.remove(lease);
        }
        this.logger.warn(
          { queue: lease.queue, code: f.Code, reason: f.Message },
          'SQS refused to extend a held message; it may be delivered again',
        );
      }
    } catch (err) {
      if (this.stopped) return;
      this.logger.error(
        { queue: batch[0]?.queue, err },
        `SQS visibility heartbeat failed (${errorText(err)}); held messages may be delivered again`,
      );
    }
  }
}
