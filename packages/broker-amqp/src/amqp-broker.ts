import { randomBytes } from 'node:crypto';
import { ConnectionManager, isNotFound, type Link } from '@machinery/amqp-connection';
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
  type Logger,
  MachineryError,
  type PurgeCounts,
  type PurgeOptions,
  resolveLogger,
  type Signature,
} from '@machinery/core';
import type { Channel, ConsumeMessage, GetMessage, Message, Options } from 'amqplib';
import { AmqpConsumer, type ConsumerHost } from './consumer.js';
import { levelName, planDelay } from './delay.js';
import {
  ATTEMPT_HEADER,
  DEAD_AT_HEADER,
  DUE_HEADER,
  numberHeader,
  ORIGIN_HEADER,
  REASON_HEADER,
  REHOP_HEADER,
  stringHeader,
  toAmqpHeaders,
  userHeaders,
} from './headers.js';
import { type AmqpBrokerOptions, type ResolvedBrokerOptions, resolveBrokerOptions } from './options.js';
import { type Outgoing, Publisher } from './publisher.js';
import { deadLetterOrigin, delayedTarget, removeWhere } from './purge.js';
import { Topology } from './topology.js';

const noop = () => {};

// Inspection reads at most this many delayed messages (they are held, hence delayed, while read).
const MAX_DELAYED_SCAN = 10_000;

/** The properties a copy of a received message keeps; headers are rebuilt by the caller. */
function copyProperties(msg: Message, headers: Record<string, unknown>): Options.Publish {
  const p = msg.properties;
  const out: Options.Publish = { deliveryMode: 2, headers };
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.correlationId !== undefined) out.correlationId = p.correlationId;
  if (p.replyTo !== undefined) out.replyTo = p.replyTo;
  if (p.type !== undefined) out.type = p.type;
  if (p.appId !== undefined) out.appId = p.appId;
  if (p.timestamp !== undefined) out.timestamp = p.timestamp;
  return out;
}

/**
 * A RabbitMQ broker, wire-compatible with Go Machinery: durable exchange `machinery_exchange`
 * (direct), durable queue `machinery_tasks` bound with its own name, persistent JSON messages with
 * the signature's `Headers` as AMQP headers and its `Priority`.
 *
 * Publishing uses publisher confirms on one long-lived channel; consuming uses one channel per
 * consumer with `basic.qos(concurrency + prefetch)` and manual acknowledgement, which the Worker
 * sends only after the task's outcome is stored — a crashed worker's tasks are redelivered by
 * RabbitMQ. Delays run through a fixed set of TTL queues (no queue per delay value); undecodable
 * messages and rejected tasks go to a dead-letter queue with the reason in a header. The connection
 * is re-established after it is lost, and consuming resumes.
 *
 * @example
 * ```ts
 * const broker = new AmqpBroker({ url: 'amqp://guest:guest@localhost:5672/' })
 * const server = new Server({ broker, backend })
 * ```
 */
export class AmqpBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly defaultQueue: string;
  private readonly options: ResolvedBrokerOptions;
  private readonly logger: Logger;
  private readonly manager: ConnectionManager;
  private readonly publisher: Publisher;
  private readonly host: ConsumerHost;
  private readonly consumers = new Set<AmqpConsumer>();
  private topologyOf: { link: Link; topology: Topology } | undefined;
  private readonly prepared = new Map<string, (t: Topology) => Promise<void>>();
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid option. */
  constructor(options: AmqpBrokerOptions = {}) {
    this.options = resolveBrokerOptions(options);
    this.defaultQueue = this.options.defaultQueue;
    this.logger = childLogger(resolveLogger(options.logger), { component: 'broker-amqp' });
    this.capabilities = {
      delays: true,
      // One pass covers 2^delayLevels − 1 ms; longer delays take further passes (re-delayed on arrival).
      maxDelayMs: Number.POSITIVE_INFINITY,
      priorities: this.options.priorities,
      fifoGroups: false,
      redelivery: true,
      leaseRenewal: false,
      // A quorum queue counts every return toward its delivery limit (x-delivery-count).
      requeueCountsTowardLimit: this.options.queueType === 'quorum',
      atomicBulkPublish: false,
      deadLetterInspection: true,
      // Reading a quorum queue's messages returns them, and RabbitMQ counts every return towards the
      // delivery limit: inspection would dead-letter tasks (see pendingTasks).
      pendingInspection: this.options.queueType === 'classic',
      delayedInspection: true,
      purge: { pending: true, delayed: true, deadLetters: true },
    };
    this.manager = new ConnectionManager({
      urls: this.options.urls,
      client: this.options.client,
      clientOptions: this.options.clientOptions,
      connectionName: this.options.connectionName,
      initialDelayMs: this.options.initialDelayMs,
      maxDelayMs: this.options.maxDelayMs,
      logger: this.logger,
      role: 'AMQP broker',
    });
    const host = {
      manager: this.manager,
      logger: this.logger,
      options: this.options,
      nonce: randomBytes(4).toString('hex'),
      topology: (link: Link) => this.topology(link),
      isClosed: () => this.closed,
      requeueCopy: (link: Link, queue: string, msg: ConsumeMessage, attempt: number) =>
        this.requeueCopy(link, queue, msg, attempt),
      delayCopy: (link: Link, queue: string, msg: ConsumeMessage, attempt: number, delayMs: number) =>
        this.delayCopy(link, queue, msg, attempt, delayMs),
      deadLetter: (link: Link, queue: string, msg: ConsumeMessage, reason: string) =>
        this.deadLetter(link, queue, msg, reason),
    };
    this.host = host;
    this.publisher = new Publisher(host);
  }

  /** True while a connection to RabbitMQ is open (for health checks; it reconnects by itself). */
  get isConnected(): boolean {
    return this.manager.live !== undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The AMQP broker is closed.');
  }

  private topology(link: Link): Topology {
    const current = this.topologyOf;
    if (current && current.link === link) return current.topology;
    const topology = new Topology(link, this.options);
    this.topologyOf = { link, topology };
    return topology;
  }

  async publish(signature: Signature): Promise<void> {
    await this.publishMany([signature]);
  }

  /**
   * Publishes every signature with publisher confirms. All are encoded first, so one that cannot be
   * encoded publishes nothing; after that the publish is not all-or-none (a failure midway may leave
   * earlier messages published), hence `atomicBulkPublish: false`.
   */
  async publishMany(signatures: readonly Signature[]): Promise<void> {
    this.assertOpen();
    const outgoing = signatures.map((s) => this.outgoing(s));
    if (outgoing.length === 0) return;
    await this.publisher.send(outgoing, { timeoutMs: this.options.publishTimeoutMs });
  }

  private outgoing(sig: Signature): Outgoing {
    const { queue: routingKey, body } = encodeForPublish(
      sig,
      this.defaultQueue,
      this.options.maxMessageBytes,
      this.options.wireFormat,
    );
    const headers = toAmqpHeaders(sig.headers);
    const properties: Options.Publish = {
      contentType: 'application/json',
      deliveryMode: 2,
      priority: sig.priority,
      headers,
    };
    const what = `task "${sig.name}" (${sig.uuid})`;
    const target = this.options.exchangeType === 'direct' ? routingKey : this.defaultQueue;
    const now = Date.now();
    const delayMs = sig.eta === null ? 0 : Math.ceil(sig.eta.getTime() - now);
    if (delayMs > 0) {
      const plan = planDelay(this.options.exchange, this.options.delayLevels, delayMs, 'exchange');
      properties.headers = {
        ...headers,
        ...plan.headers,
        [DUE_HEADER]: now + delayMs,
        ...(plan.rehop ? { [REHOP_HEADER]: 1 } : {}),
      };
      return {
        exchange: plan.exchange,
        routingKey,
        content: Buffer.from(body),
        properties,
        prepare: this.prepare(`delayed\u0000${routingKey}`, async (t) => {
          await Promise.all([t.delays(), t.publishTarget(routingKey)]);
        }),
        target,
        what,
      };
    }
    return {
      exchange: this.options.exchange,
      routingKey,
      content: Buffer.from(body),
      properties,
      prepare: this.prepare(`now\u0000${routingKey}`, (t) => t.publishTarget(routingKey)),
      target,
      what,
    };
  }

  /** One preparation function per key, so a batch prepares each target once. */
  private prepare(key: string, fn: (t: Topology) => Promise<void>): (t: Topology) => Promise<void> {
    let p = this.prepared.get(key);
    if (!p) {
      if (this.prepared.size > 10_000) this.prepared.clear();
      p = fn;
      this.prepared.set(key, p);
    }
    return p;
  }

  private requeueCopy(link: Link, queue: string, msg: ConsumeMessage, attempt: number): Promise<void> {
    return this.publisher.send(
      [
        {
          exchange: '',
          routingKey: queue,
          content: msg.content,
          properties: copyProperties(msg, {
            ...userHeaders(msg.properties.headers),
            [ATTEMPT_HEADER]: attempt,
          }),
          prepare: this.prepare(`queue\u0000${queue}`, (t) => t.queue(queue)),
          target: queue,
          what: `a requeued message of queue "${queue}"`,
        },
      ],
      { link, timeoutMs: this.options.publishTimeoutMs },
    );
  }

  private delayCopy(
    link: Link,
    queue: string,
    msg: ConsumeMessage,
    attempt: number,
    delayMs: number,
  ): Promise<void> {
    const now = Date.now();
    const plan = planDelay(this.options.exchange, this.options.delayLevels, delayMs, 'queue');
    const headers = {
      ...userHeaders(msg.properties.headers),
      [ATTEMPT_HEADER]: attempt,
      ...plan.headers,
      [DUE_HEADER]: now + Math.ceil(delayMs),
      ...(plan.rehop ? { [REHOP_HEADER]: 1 } : {}),
    };
    return this.publisher.send(
      [
        {
          exchange: plan.exchange,
          routingKey: queue,
          content: msg.content,
          properties: copyProperties(msg, headers),
          prepare: this.prepare(`requeue-delayed\u0000${queue}`, async (t) => {
            await Promise.all([t.delays(), t.queue(queue)]);
          }),
          target: queue,
          what: `a delayed requeue of queue "${queue}"`,
        },
      ],
      { link, timeoutMs: this.options.publishTimeoutMs },
    );
  }

  private deadLetter(link: Link, queue: string, msg: ConsumeMessage, reason: string): Promise<void> {
    const headers = {
      ...userHeaders(msg.properties.headers),
      [REASON_HEADER]: reason,
      [ORIGIN_HEADER]: queue,
      [DEAD_AT_HEADER]: Date.now(),
    };
    const dlq = this.options.deadLetterQueue;
    this.logger.warn({ queue, reason }, 'AMQP broker: message dead-lettered');
    return this.publisher.send(
      [
        {
          exchange: '',
          routingKey: dlq,
          content: msg.content,
          properties: copyProperties(msg, headers),
          prepare: this.prepare('dlq', (t) => t.deadLetterQueue()),
          target: dlq,
          what: `a dead letter from queue "${queue}"`,
        },
      ],
      { link, timeoutMs: this.options.publishTimeoutMs },
    );
  }

  /**
   * Starts consuming `queue` (declared durable and bound to the exchange first) on a channel of its
   * own with `basic.qos(concurrency + prefetch)`.
   * @throws MachineryError `ERR_CONNECTION` when RabbitMQ is unreachable for `connectTimeoutMs`,
   * `ERR_INVALID_ARGUMENT` when RabbitMQ refuses the queue declaration.
   */
  async consume(
    queue: string,
    onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    const capacity = Math.max(1, Math.floor(options.concurrency) + Math.max(0, Math.floor(options.prefetch)));
    const consumer = new AmqpConsumer(this.host, queue, onDelivery, capacity);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (err) {
      this.consumers.delete(consumer);
      await consumer.closeNow();
      throw err;
    }
    // Kept in `consumers` after stop(): its channel stays open for unsettled deliveries until close().
    return { stop: () => consumer.stop() };
  }

  /**
   * Reads messages on a short-lived channel of its own. Whatever it takes without acknowledging goes
   * back to its queue, in its original position, when the channel closes.
   */
  private async inspect<T>(fn: (ch: Channel, link: Link) => Promise<T>): Promise<T> {
    this.assertOpen();
    const link = await this.manager.link(this.options.connectTimeoutMs);
    const ch = await link.model.createChannel();
    ch.on('error', noop);
    try {
      return await fn(ch, link);
    } finally {
      await ch.close().catch(noop);
    }
  }

  /** Ready messages in `queue`, or `undefined` when it does not exist (the channel is then closed). */
  private async readyCount(ch: Channel, queue: string): Promise<number | undefined> {
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async take(ch: Channel, queue: string, max: number): Promise<GetMessage[]> {
    const out: GetMessage[] = [];
    while (out.length < max) {
      const m = await ch.get(queue, { noAck: false });
      if (m === false) break;
      out.push(m);
    }
    return out;
  }

  /**
   * Tasks waiting in `queue`, in queue order, without removing them: they are read and put back in
   * place (as Go's `GetPendingTasks` does), which marks them redelivered. Undecodable messages are
   * skipped. Not on quorum queues, where each read would count as a delivery (`limit` 0 still checks
   * that the queue can be reached).
   * @throws MachineryError `ERR_INVALID_ARGUMENT` on quorum queues with a `limit` above 0.
   */
  async pendingTasks(
    queue: string = this.defaultQueue,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Signature[]> {
    if (this.options.queueType === 'quorum' && limit > 0) {
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        'AmqpBroker cannot list the pending tasks of quorum queues: a message read is a message returned, which RabbitMQ counts as a delivery (x-delivery-count) and, past deliveryLimit, dead-letters. Read the ready count in the management UI or with rabbitmqctl list_queues.',
      );
    }
    return this.inspect(async (ch) => {
      const ready = await this.readyCount(ch, queue);
      if (!ready) return [];
      const out: Signature[] = [];
      for (const m of await this.take(ch, queue, Math.min(ready, limit))) {
        try {
          out.push(decodeSignature(m.content));
        } catch {
          // Not a task: it is dead-lettered when consumed.
        }
      }
      return out;
    });
  }

  /** Tasks waiting in the delay levels, earliest due first (read and put back, like `pendingTasks`). */
  async delayedTasks(limit = Number.POSITIVE_INFINITY): Promise<Signature[]> {
    return this.inspect(async (ch) => {
      const entries: { due: number; signature: Signature }[] = [];
      let scanned = 0;
      for (let k = 0; k < this.options.delayLevels && scanned < MAX_DELAYED_SCAN; k++) {
        const queue = levelName(this.options.exchange, k);
        const ready = await this.readyCount(ch, queue);
        if (ready === undefined) return []; // the levels were never declared: nothing was delayed
        for (const m of await this.take(ch, queue, Math.min(ready, MAX_DELAYED_SCAN - scanned))) {
          scanned++;
          try {
            const signature = decodeSignature(m.content);
            const due =
              numberHeader(m.properties.headers, DUE_HEADER) ??
              signature.eta?.getTime() ??
              Number.POSITIVE_INFINITY;
            entries.push({ due, signature });
          } catch {
            // Not a task.
          }
        }
      }
      entries.sort((a, b) => a.due - b.due);
      return entries.slice(0, limit).map((e) => e.signature);
    });
  }

  private toDeadLetter(m: Message): DeadLetter {
    const h = m.properties.headers;
    const deadAt = numberHeader(h, DEAD_AT_HEADER);
    const ts = m.properties.timestamp as unknown;
    return {
      body: m.content.toString('utf8'),
      reason: stringHeader(h, REASON_HEADER) ?? stringHeader(h, 'x-first-death-reason') ?? 'dead-lettered',
      queue: stringHeader(h, ORIGIN_HEADER) ?? stringHeader(h, 'x-first-death-queue') ?? '',
      at: deadAt !== undefined ? new Date(deadAt) : typeof ts === 'number' ? new Date(ts * 1000) : null,
    };
  }

  /**
   * Messages in the dead-letter queue, oldest first, without removing them. Messages RabbitMQ itself
   * dead-lettered into that queue (a DLX you configured) are shown with their `x-death` reason.
   */
  async deadLetters(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    return this.inspect(async (ch) => {
      const ready = await this.readyCount(ch, this.options.deadLetterQueue);
      if (!ready) return [];
      return (await this.take(ch, this.options.deadLetterQueue, Math.min(ready, limit))).map((m) =>
        this.toDeadLetter(m),
      );
    });
  }

  /**
   * Moves dead letters back to the queues they came from (the default queue when unknown), with a
   * fresh attempt count; returns how many moved.
   */
  async requeueDeadLetters(limit = Number.POSITIVE_INFINITY): Promise<number> {
    return this.inspect(async (ch, link) => {
      const ready = await this.readyCount(ch, this.options.deadLetterQueue);
      if (!ready) return 0;
      const taken = await this.take(ch, this.options.deadLetterQueue, Math.min(ready, limit));
      const outgoing = taken.map((m): Outgoing => {
        const h = m.properties.headers;
        const origin =
          stringHeader(h, ORIGIN_HEADER) || stringHeader(h, 'x-first-death-queue') || this.defaultQueue;
        return {
          exchange: '',
          routingKey: origin,
          content: m.content,
          properties: copyProperties(m, userHeaders(h)),
          prepare: this.prepare(`queue\u0000${origin}`, (t) => t.queue(origin)),
          target: origin,
          what: `a dead letter requeued to "${origin}"`,
        };
      });
      // Acknowledged only once every copy is confirmed; on failure they all stay dead letters.
      await this.publisher.send(outgoing, { link, timeoutMs: this.options.publishTimeoutMs });
      for (const m of taken) ch.ack(m);
      return taken.length;
    });
  }

  /**
   * Removes, from `queue`, its ready messages (`queue.purge`), its delayed tasks (messages in the
   * delay levels bound for it, delayed requeues included) and/or its dead letters (messages of the
   * shared dead-letter queue that came from it); returns how many of each. Unacknowledged messages —
   * tasks consumers hold — are not ready and stay. The delay levels and the dead-letter queue are
   * shared by every queue, so those parts read each of their messages (one `basic.get` each) and put
   * back what is not `queue`'s. Result states are not changed.
   */
  async purge(queue: string, options: PurgeOptions): Promise<PurgeCounts> {
    this.assertOpen();
    const request = checkPurge('AmqpBroker', queue, options, {
      pending: true,
      delayed: true,
      deadLetters: true,
    });
    // Each part on a channel of its own: a missing queue (404) closes the channel it was checked on.
    const pending = !request.pending
      ? 0
      : await this.inspect(async (ch) => {
          if ((await this.readyCount(ch, queue)) === undefined) return 0;
          return (await ch.purgeQueue(queue)).messageCount;
        });
    const delayed = !request.delayed
      ? 0
      : await this.inspect(async (ch) => {
          let removed = 0;
          for (let k = 0; k < this.options.delayLevels; k++) {
            const level = levelName(this.options.exchange, k);
            const ready = await this.readyCount(ch, level);
            // The levels are declared together: when one is missing, nothing was ever delayed.
            if (ready === undefined) break;
            removed += await removeWhere(ch, level, ready, (m) => delayedTarget(m, this.options) === queue);
          }
          return removed;
        });
    const deadLetters = !request.deadLetters
      ? 0
      : await this.inspect(async (ch) => {
          const dlq = this.options.deadLetterQueue;
          const ready = await this.readyCount(ch, dlq);
          if (!ready) return 0;
          return removeWhere(ch, dlq, ready, (m) => deadLetterOrigin(m, this.defaultQueue) === queue);
        });
    return { pending, delayed, deadLetters };
  }

  /**
   * Stops every consumer, closes the channels (RabbitMQ puts unsettled deliveries back in their
   * queues) and the connection unless it was passed as `client`. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.all([...this.consumers].map((c) => c.closeNow()));
      this.consumers.clear();
      await this.publisher.close();
      await this.topologyOf?.topology.close();
      this.topologyOf = undefined;
      await this.manager.close();
    })();
    return this.closing;
  }
}
