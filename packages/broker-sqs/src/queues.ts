import { CreateQueueCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isQueueMissing, sqsError } from './errors.js';

/** True for a FIFO queue name (or URL): it ends in `.fifo`. */
export function isFifoQueue(queue: string): boolean {
  return queue.endsWith('.fifo');
}

function isUrl(queue: string): boolean {
  return /^https?:\/\//i.test(queue);
}

/**
 * Turns queue names into queue URLs, once per name: Go Machinery's `prefix/name` form, a name that is
 * already a URL, `CreateQueue` (idempotent, when queues may be created) or `GetQueueUrl`.
 */
export class QueueResolver {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly client: SQSClient,
    private readonly options: {
      readonly prefix: string | undefined;
      readonly create: boolean;
      readonly signal: AbortSignal;
    },
  ) {}

  /** The URL of `queue`, creating the queue first when allowed. */
  url(queue: string): Promise<string> {
    let p = this.cache.get(queue);
    if (!p) {
      p = this.resolve(queue);
      this.cache.set(queue, p);
      // A failure (network, missing queue) must not be remembered: the next call tries again.
      p.catch(() => this.cache.delete(queue));
    }
    return p;
  }

  /** The URL of `queue` if it exists, `undefined` if it does not (never creates it). */
  async existing(queue: string): Promise<string | undefined> {
    const cached = this.cache.get(queue);
    if (cached !== undefined) return cached;
    if (isUrl(queue)) return queue;
    try {
      const out = await this.client.send(new GetQueueUrlCommand({ QueueName: queue }), {
        abortSignal: this.options.signal,
      });
      if (!out.QueueUrl) return undefined;
      const url = this.options.prefix ? `${this.options.prefix}/${queue}` : out.QueueUrl;
      this.cache.set(queue, Promise.resolve(url));
      return url;
    } catch (err) {
      if (isQueueMissing(err)) return undefined;
      throw sqsError(err, 'GetQueueUrl', queue);
    }
  }

  /** Forgets `queue`'s URL (after the queue was deleted behind our back). */
  forget(queue: string): void {
    this.cache.delete(queue);
  }

  private async resolve(queue: string): Promise<string> {
    if (isUrl(queue)) return queue;
    const prefixed = this.options.prefix ? `${this.options.prefix}/${queue}` : undefined;
    if (this.options.create) {
      try {
        const out = await this.client.send(
          new CreateQueueCommand({
            QueueName: queue,
            ...(isFifoQueue(queue) ? { Attributes: { FifoQueue: 'true' } } : {}),
          }),
          { abortSignal: this.options.signal },
        );
        if (out.QueueUrl) return prefixed ?? out.QueueUrl;
      } catch (err) {
        // Forbidden by IAM, or the queue exists with other attributes: it may still be usable.
        if (prefixed) return prefixed;
        return this.lookup(queue, err);
      }
    }
    if (prefixed) return prefixed;
    return this.lookup(queue);
  }

  private async lookup(queue: string, createError?: unknown): Promise<string> {
    try {
      const out = await this.client.send(new GetQueueUrlCommand({ QueueName: queue }), {
        abortSignal: this.options.signal,
      });
      if (out.QueueUrl) return out.QueueUrl;
      throw new Error('GetQueueUrl returned no URL');
    } catch (err) {
      throw sqsError(createError ?? err, createError ? 'CreateQueue' : 'GetQueueUrl', queue);
    }
  }
}
