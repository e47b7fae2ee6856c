import type { ConnectionManager, Link } from '@machinery/amqp-connection';
import {
  backoffDelay,
  type Consumer,
  type Delivery,
  decodeSignature,
  errorText,
  type Logger,
  type NackOptions,
  redactText,
  type Signature,
} from '@machinery/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ATTEMPT_HEADER, DUE_HEADER, numberHeader, REHOP_HEADER } from './headers.js';
import type { ResolvedBrokerOptions } from './options.js';
import { LinkLostError } from './publisher.js';
import type { Topology } from './topology.js';

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  readonly manager: ConnectionManager;
  readonly logger: Logger;
  readonly options: ResolvedBrokerOptions;
  /** Distinguishes this broker instance's tokens from another's. */
  readonly nonce: string;
  topology(link: Link): Topology;
  isClosed(): boolean;
  /** Publishes a copy of `msg` to the tail of `queue` carrying `attempt`, on `link` only. */
  requeueCopy(link: Link, queue: string, msg: ConsumeMessage, attempt: number): Promise<void>;
  /** Publishes a copy of `msg` back to `queue` after `delayMs`, on `link` only. */
  delayCopy(link: Link, queue: string, msg: ConsumeMessage, attempt: number, delayMs: number): Promise<void>;
  /** Publishes `msg` to the dead-letter queue with `reason`, on `link` only. */
  deadLetter(link: Link, queue: string, msg: ConsumeMessage, reason: string): Promise<void>;
}

/** @internal One consumer channel: deliveries settle on the channel they came from, or not at all. */
export interface Slot {
  readonly id: number;
  readonly link: Link;
  readonly channel: Channel;
  consumerTag: string | undefined;
  outstanding: number;
  closed: boolean;
}

type State = 'active' | 'stopping' | 'stopped';

let slotSeq = 0;
const noop = () => {};

/**
 * Consumes one queue on a channel of its own with `basic.qos(concurrency + prefetch)`, so RabbitMQ
 * never hands it more unsettled messages than that. When the channel or the connection is lost, the
 * unsettled deliveries are dead (RabbitMQ redelivers them; settling them resolves `false`) and
 * consuming resumes on a new channel as soon as there is a connection.
 */
export class AmqpConsumer implements Consumer {
  private slot: Slot | undefined;
  private state: State = 'active';
  private unsubscribe: () => void = noop;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAttempt = 0;
  private opening: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly host: ConsumerHost,
    readonly queue: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    private readonly capacity: number,
  ) {}

  /**
   * Declares the queue and starts consuming.
   * @throws MachineryError when RabbitMQ cannot be reached in time or refuses the queue declaration.
   */
  async start(): Promise<void> {
    const deadline = Date.now() + this.host.options.connectTimeoutMs;
    for (;;) {
      const link = await this.host.manager.link(Math.max(1, deadline - Date.now()));
      try {
        await this.open(link);
        break;
      } catch (err) {
        // A connection lost while starting is retried on the next one; a refusal is final.
        if (!link.closed || Date.now() >= deadline) throw err;
      }
    }
    // Only from here on: listening earlier would open a second channel for the first connection.
    this.unsubscribe = this.host.manager.onLink((link) => this.onLink(link));
    const live = this.host.manager.live;
    if (!this.slot && live) this.onLink(live);
  }

  /** Stops deliveries; unsettled ones stay valid until settled, then the channel closes. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.state !== 'active') return;
    this.state = 'stopping';
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    await this.opening?.catch(noop);
    const slot = this.slot;
    if (slot && !slot.closed && slot.consumerTag !== undefined) {
      // After cancel-ok RabbitMQ sends this consumer nothing more.
      await slot.channel.cancel(slot.consumerTag).catch(noop);
    }
    this.state = 'stopped';
    if (slot && slot.outstanding === 0) await this.closeSlot(slot);
  }

  /** Stops at once and closes the channel: unsettled deliveries go back to the queue (broker close). */
  async closeNow(): Promise<void> {
    this.state = 'stopped';
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    const slot = this.slot;
    if (slot) await this.closeSlot(slot);
  }

  private onLink(link: Link): void {
    if (this.state !== 'active' || this.slot || this.opening) return;
    this.reopen(link);
  }

  private reopen(link: Link): void {
    this.opening = this.open(link)
      .then(() => {
        this.retryAttempt = 0;
        this.host.logger.info({ queue: this.queue }, 'AMQP broker: consuming resumed');
      })
      .catch((err) => {
        this.host.logger.error(
          { queue: this.queue, err: redactText(errorText(err)) },
          'AMQP broker: cannot resume consuming',
        );
        if (!link.closed) this.scheduleReopen();
      })
      .finally(() => {
        this.opening = undefined;
      });
  }

  private scheduleReopen(): void {
    if (this.state !== 'active' || this.host.isClosed()) return;
    clearTimeout(this.retryTimer);
    const options = this.host.options;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        const link = this.host.manager.live;
        // Without a connection, the next one calls onLink.
        if (link && this.state === 'active' && !this.slot && !this.opening) this.reopen(link);
      },
      backoffDelay(++this.retryAttempt, options.initialDelayMs, options.maxDelayMs),
    );
  }

  private async open(link: Link): Promise<void> {
    const channel = await link.model.createChannel();
    const slot: Slot = {
      id: ++slotSeq,
      link,
      channel,
      consumerTag: undefined,
      outstanding: 0,
      closed: false,
    };
    channel.on('error', (err: Error) => {
      this.host.logger.warn(
        { queue: this.queue, err: redactText(errorText(err)) },
        'AMQP broker: consumer channel closed by RabbitMQ',
      );
    });
    channel.on('close', () => this.onChannelClose(slot));
    try {
      await channel.prefetch(this.capacity, false);
      await this.host.topology(link).queue(this.queue);
      if (this.state !== 'active') throw new LinkLostError();
      this.slot = slot;
      const { consumerTag } = await channel.consume(this.queue, (msg) => this.onMessage(slot, msg), {
        noAck: false,
      });
      slot.consumerTag = consumerTag;
      // Stopped or closed while this was starting: a consumer nobody wants must not hold the queue.
      if (this.state !== 'active') await this.closeSlot(slot);
    } catch (err) {
      if (this.slot === slot) this.slot = undefined;
      await this.closeSlot(slot);
      throw err;
    }
  }

  private onChannelClose(slot: Slot): void {
    slot.closed = true;
    if (this.slot !== slot) return;
    this.slot = undefined;
    if (this.state !== 'active' || this.host.isClosed()) return;
    // The channel died alone (consumer_timeout, queue deleted…): reopen after a pause. When the whole
    // connection died, the manager reconnects and onLink reopens.
    if (!slot.link.closed) this.scheduleReopen();
  }

  private async closeSlot(slot: Slot): Promise<void> {
    if (slot.closed) return;
    slot.closed = true;
    await slot.channel.close().catch(noop);
  }

  private onMessage(slot: Slot, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // RabbitMQ cancelled the consumer (its queue was deleted): start over, which declares it again.
      this.host.logger.warn({ queue: this.queue }, 'AMQP broker: RabbitMQ cancelled the consumer');
      void this.closeSlot(slot);
      if (this.slot === slot) {
        this.slot = undefined;
        this.scheduleReopen();
      }
      return;
    }
    if (slot !== this.slot || this.state !== 'active') {
      // Arrived while stopping: give it straight back.
      this.nackRaw(slot, msg, true, false);
      return;
    }
    slot.outstanding++;
    const options = this.host.options;
    let signature: Signature;
    try {
      signature = decodeSignature(msg.content, { maxBytes: options.maxMessageBytes });
    } catch (err) {
      // Never handed to the Worker: it could do nothing with it. Kept with the reason instead.
      void this.settleInternally(slot, msg, () =>
        this.host.deadLetter(slot.link, this.queue, msg, errorText(err)),
      );
      return;
    }
    const headers = msg.properties.headers;
    const prior = numberHeader(headers, ATTEMPT_HEADER) ?? 0;
    const due = numberHeader(headers, DUE_HEADER);
    if (headers?.[REHOP_HEADER] !== undefined && due !== undefined && due > Date.now()) {
      // A delay longer than one pass through the levels: another pass.
      void this.settleInternally(slot, msg, () =>
        this.host.delayCopy(slot.link, this.queue, msg, prior, due - Date.now()),
      );
      return;
    }
    // Quorum queues count deliveries; classic queues only flag a redelivery.
    const deliveryCount = numberHeader(headers, 'x-delivery-count');
    const own = deliveryCount !== undefined ? deliveryCount + 1 : msg.fields.redelivered ? 2 : 1;
    const delivery = new AmqpDelivery(
      this,
      slot,
      msg,
      signature,
      prior + own,
      msg.fields.redelivered || prior > 0,
      `${this.host.nonce}:${slot.link.generation}:${slot.id}:${msg.fields.deliveryTag}`,
    );
    try {
      this.onDelivery(delivery);
    } catch (err) {
      this.host.logger.error({ queue: this.queue, err }, 'AMQP broker: the delivery handler threw');
    }
  }

  private async settleInternally(
    slot: Slot,
    msg: ConsumeMessage,
    publish: () => Promise<void>,
  ): Promise<void> {
    try {
      await publish();
    } catch (err) {
      if (err instanceof LinkLostError || slot.closed) return; // RabbitMQ redelivers it.
      this.host.logger.error(
        { queue: this.queue, err: redactText(errorText(err)) },
        'AMQP broker: could not move a message; it goes back to its queue in 1 s',
      );
      setTimeout(() => this.nackRaw(slot, msg, true), 1000).unref();
      return;
    }
    this.ackRaw(slot, msg);
  }

  /** @internal Acknowledges on the delivery's channel; `false` when that channel is gone. */
  ackRaw(slot: Slot, msg: ConsumeMessage): boolean {
    if (slot.closed || slot.link.closed) return false;
    try {
      slot.channel.ack(msg);
    } catch {
      return false;
    }
    this.release(slot);
    return true;
  }

  /** @internal Native `basic.nack`; `false` when the channel is gone. */
  nackRaw(slot: Slot, msg: ConsumeMessage, requeue: boolean, counted = true): boolean {
    if (slot.closed || slot.link.closed) return false;
    try {
      slot.channel.nack(msg, false, requeue);
    } catch {
      return false;
    }
    if (counted) this.release(slot);
    return true;
  }

  /** @internal */
  get consumerHost(): ConsumerHost {
    return this.host;
  }

  private release(slot: Slot): void {
    slot.outstanding--;
    // A stopped consumer keeps its channel only for the deliveries still being worked on.
    if (this.state === 'stopped' && slot.outstanding === 0) void this.closeSlot(slot);
  }
}

/** A message handed to the Worker; settles on the channel it came from. */
class AmqpDelivery implements Delivery {
  private settled = false;

  constructor(
    private readonly consumer: AmqpConsumer,
    private readonly slot: Slot,
    private readonly msg: ConsumeMessage,
    readonly signature: Signature,
    readonly attempt: number,
    readonly redelivered: boolean,
    readonly token: string,
  ) {}

  get queue(): string {
    return this.consumer.queue;
  }

  async ack(): Promise<boolean> {
    if (this.settled) return false;
    this.settled = true;
    return this.consumer.ackRaw(this.slot, this.msg);
  }

  async nack(options: NackOptions = {}): Promise<boolean> {
    if (this.settled) return false;
    this.settled = true;
    const { slot, msg } = this;
    if (slot.closed || slot.link.closed) return false;
    const host = this.consumer.consumerHost;
    const queue = this.consumer.queue;
    if (
      host.options.queueType === 'quorum' &&
      options.requeue !== false &&
      !(options.delayMs !== undefined && options.delayMs > 0)
    ) {
      // A quorum queue counts the return itself (x-delivery-count), and its delivery limit turns a
      // message requeued too often into a dead letter: hand the message itself back.
      return this.consumer.nackRaw(slot, msg, true);
    }
    try {
      // Classic queues do not count redeliveries, so a requeue publishes a copy that carries the
      // count (and goes to the tail of the queue), then acknowledges the original.
      if (options.requeue === false) {
        await host.deadLetter(slot.link, queue, msg, options.reason ?? 'rejected');
      } else if (options.delayMs !== undefined && options.delayMs > 0) {
        await host.delayCopy(slot.link, queue, msg, this.attempt, options.delayMs);
      } else {
        await host.requeueCopy(slot.link, queue, msg, this.attempt);
      }
    } catch (err) {
      if (err instanceof LinkLostError || slot.closed) return false;
      host.logger.error(
        { queue, taskUUID: this.signature.uuid, err: redactText(errorText(err)) },
        'AMQP broker: could not requeue or dead-letter a task; returning it to the head of its queue',
      );
      return this.consumer.nackRaw(slot, msg, true);
    }
    return this.consumer.ackRaw(slot, msg);
  }
}
