import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type ReceiveMessageCommandOutput,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import {
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  checkPurge,
  childLogger,
  type DeadLetter,
  type Delivery,
  decodeSignature,
  encodeForPublish,
  isMachineryError,
  type Logger,
  MachineryError,
  type PurgeCounts,
  type PurgeOptions,
  resolveLogger,
  type Signature,
  uniqueClaimOf,
} from '@machinery/core';
import { type ConsumerHost, HOLD_MS, SqsConsumer } from './consumer.js';
import { DeleteBatcher, SQS_BATCH_SIZE } from './delete-batcher.js';
import { isQueueMissing, isStaleReceipt, sqsError } from './errors.js';
import {
  deduplicationId,
  messageGroupId,
  SQS_DEDUPLICATION_WINDOW_MS,
  uniqueDeduplicationId,
} from './fifo.js';
import { Heartbeat, type Lease } from './heartbeat.js';
import {
  type ResolvedOptions,
  resolveOptions,
  SQS_MAX_MESSAGE_BYTES,
  type SqsBrokerOptions,
} from './options.js';
import { receiveAndDelete } from './purge.js';
import { isFifoQueue, QueueResolver } from './queues.js';

/** Message attribute carrying why a message was dead-lettered. */
export const REASON_ATTRIBUTE = 'machinery-reason';
/** Message attribute carrying the queue a dead letter came from. */
export const SOURCE_QUEUE_ATTRIBUTE = 'machinery-queue';

// SQS allows ten message attributes per message; ours take two of them.
const MAX_KEPT_ATTRIBUTES = 8;
const MAX_REASON_CHARS = 4096;
// How long inspected dead letters stay hidden should the inspecting process die mid-listing; they are
// given back (visibility 0) as soon as the listing is done.
const INSPECT_VISIBILITY_SECONDS = 30;

interface Prepared {
  readonly queue: string;
  readonly entry: Omit<SendMessageBatchRequestEntry, 'Id'>;
  readonly size: number;
}

/**
 * Amazon SQS broker, wire-compatible with Go Machinery's: the message body is the Signature JSON, the
 * queue URL is `queueUrlPrefix/queue` (Go's `Broker` setting) or looked up by name. Beyond Go it long
 * polls for up to ten messages when slots are free, keeps held messages invisible with a heartbeat,
 * deletes (in batches) only after the Worker stored the outcome, reaches delays beyond SQS's 15
 * minutes in hops, gives FIFO retries a fresh deduplication id, and moves poison messages to a
 * dead-letter queue with the reason.
 *
 * @example
 * ```ts
 * const broker = new SqsBroker({ region: 'us-east-1' })
 * const server = new Server({ broker, backend })
 * ```
 */
export class SqsBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    delays: true,
    // Delays beyond DelaySeconds' 900 s are reached in hops.
    maxDelayMs: Number.POSITIVE_INFINITY,
    priorities: false,
    fifoGroups: true,
    redelivery: true,
    leaseRenewal: true,
    // Each receive counts toward the redrive policy's maxReceiveCount.
    requeueCountsTowardLimit: true,
    // SendMessageBatch is all-or-none neither within a batch nor across batches of ten.
    atomicBulkPublish: false,
    deadLetterInspection: true,
    // Listing a queue means receiving its messages, which hides them from consumers.
    pendingInspection: false,
    delayedInspection: false,
    // Delayed messages are invisible until due; only PurgeQueue reaches them, and it also deletes
    // the messages workers hold.
    purge: { pending: true, delayed: false, deadLetters: true },
  };
  readonly defaultQueue: string;
  /** The SQS client in use (the one given, or the one this broker created). */
  readonly client: SQSClient;
  /** @internal */ readonly options: ResolvedOptions;
  /** @internal */ readonly logger: Logger;
  /** @internal */ readonly heartbeat: Heartbeat;
  /** @internal */ readonly resolver: QueueResolver;
  private readonly deletes: DeleteBatcher;
  private readonly ownsClient: boolean;
  private readonly abort = new AbortController();
  private warnedNoOutcomes = false;
  private readonly consumers = new Set<SqsConsumer>();
  private readonly knownQueues = new Set<string>();
  private readonly pendingReleases = new Set<NodeJS.Timeout>();
  private closing: Promise<void> | undefined;

  constructor(options: SqsBrokerOptions = {}) {
    try {
      this.options = resolveOptions(options);
    } catch (err) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `Invalid SqsBroker options: ${(err as Error).message}`,
      );
    }
    this.logger = childLogger(resolveLogger(options.logger), { component: 'sqs-broker' });
    this.defaultQueue = this.options.defaultQueue;
    // Kept by a heartbeat of this process: a Worker warns when its event loop stalls a third of it.
    this.capabilities = { ...this.capabilities, leaseMs: this.options.visibilitySeconds * 1000 };
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new SQSClient(clientConfig(options));
    this.heartbeat = new Heartbeat(this.client, this.options.visibilitySeconds, this.logger);
    this.deletes = new DeleteBatcher(this.client, this.options.deleteBatchWindowMs, this.logger);
    this.resolver = new QueueResolver(this.client, {
      prefix: this.options.queueUrlPrefix,
      create: this.options.createQueues,
      signal: this.abort.signal,
    });
  }

  /** @internal */
  get closeSignal(): AbortSignal {
    return this.abort.signal;
  }

  /** @internal */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The SQS broker is closed; create a new one.');
  }

  async publish(signature: Signature): Promise<void> {
    await this.publishMany([signature]);
  }

  /**
   * Publishes with `SendMessageBatch`, ten per request. Every signature is encoded before anything is
   * sent, so one that cannot be encoded publishes nothing; a batch that SQS refuses in part is
   * reported, and the rest of it is published (not atomic).
   */
  async publishMany(signatures: readonly Signature[]): Promise<void> {
    this.assertOpen();
    const prepared = signatures.map((s) => this.prepare(s));
    const byQueue = new Map<string, Prepared[]>();
    for (const p of prepared) {
      const list = byQueue.get(p.queue) ?? [];
      list.push(p);
      byQueue.set(p.queue, list);
    }
    await Promise.all([...byQueue].map(([queue, list]) => this.sendAll(queue, list)));
  }

  private prepare(sig: Signature): Prepared {
    const { queue, body } = encodeForPublish(
      sig,
      this.defaultQueue,
      this.options.maxMessageBytes,
      this.options.wireFormat,
    );
    this.knownQueues.add(queue);
    const entry: Omit<SendMessageBatchRequestEntry, 'Id'> = { MessageBody: body };
    if (isFifoQueue(queue)) {
      entry.MessageGroupId = messageGroupId(
        sig.brokerMessageGroupId || this.options.defaultMessageGroupId(sig),
      );
      const unique = uniqueClaimOf(sig);
      entry.MessageDeduplicationId =
        unique !== undefined && unique.forMs >= SQS_DEDUPLICATION_WINDOW_MS
          ? uniqueDeduplicationId(sig.name, unique.key)
          : deduplicationId(sig.uuid);
    } else if (sig.eta !== null) {
      const ms = sig.eta.getTime() - Date.now();
      // Rounded up so the message never arrives before its ETA; longer delays hop on arrival.
      if (ms > 0) entry.DelaySeconds = Math.min(this.options.maxDelaySeconds, Math.ceil(ms / 1000));
    }
    return { queue, entry, size: Buffer.byteLength(body) };
  }

  /**
   * Runs `send` with the queue's URL; when the queue vanished (deleted, or an in-memory test server
   * restarted) and queues may be created, resolves (creates) it again and retries once.
   */
  private async withQueue<T>(queue: string, send: (url: string) => Promise<T>): Promise<T> {
    const url = await this.resolver.url(queue);
    try {
      return await send(url);
    } catch (err) {
      const missing =
        isQueueMissing(err) || (isMachineryError(err, 'ERR_NOT_FOUND') && isQueueMissing(err.cause));
      if (!missing || !this.options.createQueues) throw err;
      this.resolver.forget(queue);
      return send(await this.resolver.url(queue));
    }
  }

  private sendAll(queue: string, list: Prepared[]): Promise<void> {
    return this.withQueue(queue, (url) => this.sendTo(queue, url, list));
  }

  private async sendTo(queue: string, url: string, list: Prepared[]): Promise<void> {
    if (list.length === 1) {
      const only = list[0] as Prepared;
      try {
        await this.client.send(new SendMessageCommand({ QueueUrl: url, ...only.entry }));
      } catch (err) {
        throw sqsError(err, 'SendMessage', queue);
      }
      return;
    }
    // Batches of at most ten entries and at most 1 MiB in total.
    const batches: Prepared[][] = [];
    let current: Prepared[] = [];
    let bytes = 0;
    for (const p of list) {
      if (
        current.length === SQS_BATCH_SIZE ||
        (current.length > 0 && bytes + p.size > SQS_MAX_MESSAGE_BYTES)
      ) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(p);
      bytes += p.size;
    }
    if (current.length > 0) batches.push(current);
    const failures: string[] = [];
    let senderFault = false;
    await Promise.all(
      batches.map(async (batch) => {
        let out: SendMessageBatchCommandOutput;
        try {
          out = await this.sendBatch(url, batch);
        } catch (err) {
          throw sqsError(err, 'SendMessageBatch', queue);
        }
        for (const f of out.Failed ?? []) {
          failures.push(`${f.Code}: ${f.Message}`);
          senderFault ||= f.SenderFault === true;
        }
      }),
    );
    if (failures.length > 0) {
      throw new MachineryError(
        senderFault ? 'ERR_INVALID_ARGUMENT' : 'ERR_CONNECTION',
        `SQS SendMessageBatch on queue "${queue}" refused ${failures.length} of ${list.length} messages (${failures[0]}); the others were published.`,
      );
    }
  }

  private sendBatch(url: string, batch: Prepared[]): Promise<SendMessageBatchCommandOutput> {
    return this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: batch.map((p, i) => ({ Id: String(i), ...p.entry })),
      }),
    );
  }

  async consume(
    queue: string,
    onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    this.knownQueues.add(queue);
    // Resolve (and create) the queue first, so that a missing queue fails here and not in the loop.
    await this.resolver.url(queue);
    this.assertOpen();
    const consumer = new SqsConsumer(this.host(), queue, onDelivery, options);
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  private host(): ConsumerHost {
    // The consumer sees the broker through this narrow view.
    const self = this;
    return {
      client: this.client,
      options: this.options,
      logger: this.logger,
      heartbeat: this.heartbeat,
      resolver: this.resolver,
      closeSignal: this.abort.signal,
      get closed() {
        return self.closed;
      },
      deleteMessage: (lease) => this.deletes.delete(lease.queueUrl, lease.queue, lease.receiptHandle),
      changeVisibility: (lease, seconds) => this.changeVisibility(lease, seconds),
      release: (leases) => this.release(leases),
      releaseLater: (lease, ms) => this.releaseLater(lease, ms),
      deadLetter: (lease, message, reason) => this.deadLetter(lease, message, reason),
      hop: (lease, message, delaySeconds) => this.hop(lease, message, delaySeconds),
      warnNoOutcomes: (sig) => {
        if (this.warnedNoOutcomes) return;
        this.warnedNoOutcomes = true;
        this.logger.warn(
          { taskUUID: sig.uuid, taskName: sig.name },
          'A task is flagged stopTaskDeletionOnError, but the SQS broker has no `outcomes` option to learn whether it failed: its message is deleted. Pass the result backend as `outcomes` to keep failed tasks in SQS.',
        );
      },
    };
  }

  private async changeVisibility(lease: Lease, seconds: number): Promise<boolean> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: lease.queueUrl,
          ReceiptHandle: lease.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
      return true;
    } catch (err) {
      if (isStaleReceipt(err)) {
        lease.lost = true;
        return false;
      }
      throw sqsError(err, 'ChangeMessageVisibility', lease.queue);
    }
  }

  private releaseLater(lease: Lease, ms: number): void {
    const timer = setTimeout(() => {
      this.pendingReleases.delete(timer);
      this.heartbeat.remove(lease);
      if (this.closed) return;
      this.changeVisibility(lease, 0).catch((err: unknown) => {
        // Not fatal: the message comes back after its visibility timeout instead.
        this.logger.warn({ queue: lease.queue, err }, 'Could not give a message back to SQS');
      });
    }, ms);
    this.pendingReleases.add(timer);
  }

  private async release(leases: readonly Lease[]): Promise<void> {
    const byQueue = new Map<string, Lease[]>();
    for (const l of leases) {
      const list = byQueue.get(l.queueUrl) ?? [];
      list.push(l);
      byQueue.set(l.queueUrl, list);
    }
    const requests: Promise<unknown>[] = [];
    for (const [url, list] of byQueue) {
      for (let i = 0; i < list.length; i += SQS_BATCH_SIZE) {
        const batch = list.slice(i, i + SQS_BATCH_SIZE);
        requests.push(
          this.client
            .send(
              new ChangeMessageVisibilityBatchCommand({
                QueueUrl: url,
                Entries: batch.map((l, j) => ({
                  Id: String(j),
                  ReceiptHandle: l.receiptHandle,
                  VisibilityTimeout: 0,
                })),
              }),
            )
            .catch((err: unknown) => {
              // Not fatal: the messages come back after their visibility timeout instead of now.
              this.logger.warn({ queue: batch[0]?.queue, err }, 'Could not give messages back to SQS');
            }),
        );
      }
    }
    await Promise.all(requests);
  }

  /** Sends `body` to `queue` (URL resolved), with FIFO ids when it is a FIFO queue. */
  private async sendRaw(
    queue: string,
    body: string,
    extra: {
      delaySeconds?: number;
      attributes?: Record<string, MessageAttributeValue>;
      groupId?: string;
    } = {},
  ): Promise<void> {
    const fifo = isFifoQueue(queue);
    const attributes = extra.attributes ?? {};
    await this.withQueue(queue, async (url) => {
      try {
        await this.client.send(
          new SendMessageCommand({
            QueueUrl: url,
            MessageBody: body,
            ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
            ...(fifo
              ? {
                  MessageGroupId: messageGroupId(extra.groupId ?? 'machinery'),
                  MessageDeduplicationId: deduplicationId(`moved-${Date.now()}`),
                }
              : extra.delaySeconds !== undefined && extra.delaySeconds > 0
                ? { DelaySeconds: extra.delaySeconds }
                : {}),
          }),
        );
      } catch (err) {
        throw sqsError(err, 'SendMessage', queue);
      }
    });
  }

  private async deadLetter(lease: Lease, message: Message, reason: string): Promise<boolean> {
    const dlq = this.options.deadLetterQueue(lease.queue);
    this.knownQueues.add(lease.queue);
    const attributes: Record<string, MessageAttributeValue> = keptAttributes(message.MessageAttributes);
    attributes[REASON_ATTRIBUTE] = { DataType: 'String', StringValue: truncate(reason || 'rejected') };
    attributes[SOURCE_QUEUE_ATTRIBUTE] = { DataType: 'String', StringValue: lease.queue };
    const groupId = message.Attributes?.MessageGroupId;
    await this.sendRaw(dlq, message.Body ?? '', { attributes, ...(groupId ? { groupId } : {}) });
    this.logger.warn(
      { queue: lease.queue, deadLetterQueue: dlq, reason },
      'message moved to the dead-letter queue',
    );
    await this.deletes.delete(lease.queueUrl, lease.queue, lease.receiptHandle);
    return !lease.lost;
  }

  private async hop(lease: Lease, message: Message, delaySeconds: number): Promise<void> {
    // A fresh message carries the rest of the delay; crashing between the two steps duplicates it, and
    // the Worker skips a duplicate whose state is already final.
    await this.sendRaw(lease.queue, message.Body ?? '', {
      delaySeconds,
      attributes: keptAttributes(message.MessageAttributes),
    });
    this.logger.debug({ queue: lease.queue, delaySeconds, messageId: message.MessageId }, 'delay hop');
    await this.deletes.delete(lease.queueUrl, lease.queue, lease.receiptHandle);
  }

  /** Source queues whose dead-letter queues inspection reads, by DLQ name. */
  private deadLetterQueues(): Map<string, string> {
    const sources = new Set([this.defaultQueue, ...this.options.inspectQueues, ...this.knownQueues]);
    const out = new Map<string, string>();
    for (const source of sources) {
      const dlq = this.options.deadLetterQueue(source);
      if (!out.has(dlq)) out.set(dlq, source);
    }
    return out;
  }

  /** Receives up to `limit` messages of `queueUrl` with a visibility timeout, never the same one twice. */
  private async receiveAll(queueUrl: string, limit: number, dlq: string): Promise<Message[]> {
    const seen = new Map<string, Message>();
    while (seen.size < limit) {
      let out: ReceiveMessageCommandOutput;
      try {
        out = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, limit - seen.size),
            WaitTimeSeconds: 0,
            VisibilityTimeout: INSPECT_VISIBILITY_SECONDS,
            MessageSystemAttributeNames: ['SentTimestamp', 'MessageGroupId'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
      } catch (err) {
        await this.release(leasesOf(dlq, queueUrl, [...seen.values()]));
        throw sqsError(err, 'ReceiveMessage', dlq);
      }
      const fresh = (out.Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
      if (fresh.length === 0) break;
      for (const m of fresh) seen.set(m.MessageId as string, m);
    }
    return [...seen.values()];
  }

  async pendingTasks(): Promise<Signature[]> {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'SqsBroker cannot list pending tasks: SQS shows a message only by receiving it, which hides it from workers. Use the ApproximateNumberOfMessages queue attribute for a count.',
    );
  }

  async delayedTasks(): Promise<Signature[]> {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      'SqsBroker cannot list delayed tasks: SQS does not expose delayed messages. Use the ApproximateNumberOfMessagesDelayed queue attribute for a count.',
    );
  }

  /**
   * Reads the dead-letter queues of the default queue, of `inspectQueues` and of every queue this
   * broker used, oldest first, without removing anything: messages are received with a visibility
   * timeout and given back at once. On real SQS a receive samples servers, so a listing of a large
   * queue may miss messages.
   */
  async deadLetters(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    this.assertOpen();
    const out: DeadLetter[] = [];
    for (const [dlq, source] of this.deadLetterQueues()) {
      const url = await this.resolver.existing(dlq);
      if (!url) continue;
      const messages = await this.receiveAll(url, limit, dlq);
      await this.release(leasesOf(dlq, url, messages));
      for (const m of messages) out.push(toDeadLetter(m, source));
    }
    out.sort((a, b) => (a.at?.getTime() ?? 0) - (b.at?.getTime() ?? 0));
    return out.slice(0, limit);
  }

  /** Moves dead letters back to the queues they came from (without our reason attributes). */
  async requeueDeadLetters(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.assertOpen();
    let moved = 0;
    for (const [dlq, source] of this.deadLetterQueues()) {
      if (moved >= limit) break;
      const url = await this.resolver.existing(dlq);
      if (!url) continue;
      const messages = await this.receiveAll(url, limit - moved, dlq);
      for (const m of messages) {
        const target = m.MessageAttributes?.[SOURCE_QUEUE_ATTRIBUTE]?.StringValue || source;
        const lease: Lease = { queue: dlq, queueUrl: url, receiptHandle: m.ReceiptHandle ?? '', lost: false };
        try {
          await this.sendRaw(target, m.Body ?? '', {
            attributes: keptAttributes(m.MessageAttributes),
            groupId: groupIdOf(m, this.options),
          });
          await this.deletes.delete(url, dlq, lease.receiptHandle);
          moved++;
        } catch (err) {
          await this.release([lease]);
          throw err;
        }
      }
    }
    return moved;
  }

  /**
   * Removes `queue`'s waiting messages and/or the dead letters in its dead-letter queue that came
   * from it, by receiving and deleting (see {@link receiveAndDelete}: never with `PurgeQueue`, which
   * would delete the messages workers hold too and is rate-limited to once a minute); returns how many
   * of each. A waiting message whose ETA is still ahead (a long delay between two hops) is a delayed
   * task and stays. Delayed tasks cannot be purged: SQS hides them until due. Result states are not
   * changed.
   */
  async purge(queue: string, options: PurgeOptions): Promise<PurgeCounts> {
    this.assertOpen();
    const request = checkPurge('SqsBroker', queue, options, this.capabilities.purge ?? NO_PURGE, {
      delayed:
        'SQS hides a delayed message until it is due, and PurgeQueue, the only way to reach it, also deletes the tasks workers hold',
    });
    let pending = 0;
    if (request.pending) {
      const url = await this.resolver.existing(queue);
      if (url)
        pending = await receiveAndDelete(this.client, queue, url, (m) => !isDelayed(m), this.abort.signal);
    }
    let deadLetters = 0;
    if (request.deadLetters) {
      const dlq = this.options.deadLetterQueue(queue);
      const url = await this.resolver.existing(dlq);
      // A dead-letter queue may be shared (the deadLetterQueue option): only this queue's letters go.
      const fromQueue = (m: Message) =>
        (m.MessageAttributes?.[SOURCE_QUEUE_ATTRIBUTE]?.StringValue ?? queue) === queue;
      if (url) deadLetters = await receiveAndDelete(this.client, dlq, url, fromQueue, this.abort.signal);
    }
    return { pending, delayed: 0, deadLetters };
  }

  /**
   * Stops every consumer and heartbeat, finishes pending deletes, cancels in-flight long polls and,
   * when the broker created the client, destroys it. Held messages are not given back: they return
   * after their visibility timeout, exactly as when the process dies. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of this.consumers) await c.stop();
      this.consumers.clear();
      // Messages waiting out a short requeue delay come back after their visibility timeout instead.
      for (const timer of this.pendingReleases) clearTimeout(timer);
      this.pendingReleases.clear();
      this.heartbeat.stop();
      await this.deletes.flush();
      this.abort.abort();
      if (this.ownsClient) this.client.destroy();
    })();
    return this.closing;
  }
}

const NO_PURGE = { pending: false, delayed: false, deadLetters: false };

/** A task whose ETA is still ahead, between two delay hops: the consumer would delay it again. */
function isDelayed(m: Message): boolean {
  try {
    const sig = decodeSignature(m.Body ?? '', { maxBytes: SQS_MAX_MESSAGE_BYTES });
    return sig.eta !== null && sig.eta.getTime() - Date.now() > HOLD_MS;
  } catch {
    // Not a task: it waits to be dead-lettered, and goes with the pending ones.
    return false;
  }
}

function clientConfig(o: SqsBrokerOptions): SQSClientConfig {
  const config: SQSClientConfig = { ...o.clientOptions };
  if (o.region !== undefined) config.region = o.region;
  if (o.endpoint !== undefined) config.endpoint = o.endpoint;
  if (o.credentials !== undefined) config.credentials = o.credentials;
  return config;
}

function truncate(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

/** A message's own attributes (not our dead-letter ones), as SendMessage takes them, at most eight. */
function keptAttributes(
  attrs: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, a] of Object.entries(attrs ?? {})) {
    if (name === REASON_ATTRIBUTE || name === SOURCE_QUEUE_ATTRIBUTE) continue;
    if (Object.keys(out).length >= MAX_KEPT_ATTRIBUTES) break;
    const v: MessageAttributeValue = { DataType: a.DataType ?? 'String' };
    if (a.StringValue !== undefined) v.StringValue = a.StringValue;
    if (a.BinaryValue !== undefined) v.BinaryValue = a.BinaryValue;
    out[name] = v;
  }
  return out;
}

function leasesOf(queue: string, queueUrl: string, messages: readonly Message[]): Lease[] {
  return messages
    .filter((m) => m.ReceiptHandle)
    .map((m) => ({ queue, queueUrl, receiptHandle: m.ReceiptHandle as string, lost: false }));
}

function toDeadLetter(m: Message, source: string): DeadLetter {
  const sent = Number(m.Attributes?.SentTimestamp);
  return {
    body: m.Body ?? '',
    reason:
      m.MessageAttributes?.[REASON_ATTRIBUTE]?.StringValue ??
      'moved by the queue’s SQS redrive policy (received more than maxReceiveCount times)',
    queue: m.MessageAttributes?.[SOURCE_QUEUE_ATTRIBUTE]?.StringValue ?? source,
    at: Number.isFinite(sent) && sent > 0 ? new Date(sent) : null,
  };
}

function groupIdOf(m: Message, options: ResolvedOptions): string {
  try {
    const sig = decodeSignature(m.Body ?? '', { maxBytes: SQS_MAX_MESSAGE_BYTES });
    return sig.brokerMessageGroupId || options.defaultMessageGroupId(sig);
  } catch {
    return m.Attributes?.MessageGroupId ?? 'machinery';
  }
}
