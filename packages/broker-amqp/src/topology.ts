import type { Link } from '@machinery/amqp-connection';
import type { Channel } from 'amqplib';
import { bitHeader, EXIT_HEADER, exitName, levelName } from './delay.js';
import { declareError } from './errors.js';
import type { ResolvedBrokerOptions } from './options.js';

/**
 * The exchanges and queues one connection has declared. Declarations are idempotent in RabbitMQ but
 * cost a round trip, so each is made once per connection (a reconnect starts afresh, as Go does) and
 * forgotten when a publish shows it vanished. They run one at a time on a channel of their own: a
 * refused declaration closes that channel, never the publisher's or a consumer's.
 */
export class Topology {
  private channel: Promise<Channel> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly done = new Map<string, Promise<void>>();
  /** Preparation functions of messages (see `Outgoing.prepare`) already completed on this connection. */
  readonly prepared = new Set<unknown>();

  constructor(
    private readonly link: Link,
    private readonly options: ResolvedBrokerOptions,
  ) {}

  /** The binding key a consumer's queue gets: the configured one for the default queue, else its name. */
  bindingKeyFor(queue: string): string {
    return queue === this.options.defaultQueue ? this.options.bindingKey : queue;
  }

  /** The main exchange (durable, not auto-deleted, not internal, no arguments — as Go declares it). */
  exchange(): Promise<void> {
    return this.once('exchange', `exchange "${this.options.exchange}"`, (ch) =>
      ch.assertExchange(this.options.exchange, this.options.exchangeType, {
        durable: true,
        autoDelete: false,
        internal: false,
      }),
    );
  }

  /**
   * A durable task queue bound to the main exchange with `bindingKey` (Go's declaration), with the
   * arguments the options give it (`x-queue-type: quorum` and its dead-lettering for quorum queues).
   */
  async queue(queue: string, bindingKey = this.bindingKeyFor(queue)): Promise<void> {
    await this.exchange();
    // A quorum queue dead-letters into the dead-letter queue by itself (delivery limit): it must exist.
    if (this.options.queueType === 'quorum') await this.deadLetterQueue();
    await this.once(`queue\u0000${queue}\u0000${bindingKey}`, `queue "${queue}"`, async (ch) => {
      await ch.assertQueue(queue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
        arguments: this.options.queueDeclareArgs,
      });
      await ch.bindQueue(queue, this.options.exchange, bindingKey, this.options.queueBindingArgs);
    });
  }

  /**
   * What a publish with `routingKey` needs, as Go's publisher declares it: for a direct exchange the
   * queue named like the routing key, bound with it; otherwise the default queue with its binding key.
   */
  publishTarget(routingKey: string): Promise<void> {
    return this.options.exchangeType === 'direct'
      ? this.queue(routingKey, routingKey)
      : this.queue(this.options.defaultQueue, this.options.bindingKey);
  }

  /** The dead-letter queue (durable, no arguments). */
  deadLetterQueue(): Promise<void> {
    return this.once('dlq', `dead-letter queue "${this.options.deadLetterQueue}"`, async (ch) => {
      await ch.assertQueue(this.options.deadLetterQueue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
      });
    });
  }

  /** The delay levels and their exit (see delay.ts). */
  async delays(): Promise<void> {
    await this.exchange();
    await this.once('delays', `the delay levels of "${this.options.exchange}"`, async () => {
      const ex = this.options.exchange;
      const exit = exitName(ex);
      const levels = Array.from({ length: this.options.delayLevels }, (_, k) => k);
      const durable = { durable: true, autoDelete: false, internal: false };
      type Step = (ch: Channel) => Promise<unknown>;
      // Some 130 declarations, each a durable metadata write: spread over several channels they take a
      // fraction of the time. Each phase needs the objects of the one before.
      await this.parallel([
        (ch) => ch.assertExchange(exit, 'headers', durable),
        ...levels.map(
          (k): Step =>
            (ch) =>
              ch.assertExchange(levelName(ex, k), 'headers', durable),
        ),
      ]);
      await this.parallel([
        // A TTL-0 queue dead-letters at once; with the default exchange as its dead-letter exchange and
        // no routing key override, the message lands in the queue its routing key names.
        async (ch) => {
          await ch.assertQueue(exit, {
            durable: true,
            autoDelete: false,
            exclusive: false,
            arguments: { 'x-message-ttl': 0, 'x-dead-letter-exchange': '' },
          });
          await ch.bindQueue(exit, exit, '', { 'x-match': 'all', [EXIT_HEADER]: 'queue' });
        },
        (ch) => ch.bindExchange(ex, exit, '', { 'x-match': 'all', [EXIT_HEADER]: 'exchange' }),
        ...levels.map(
          (k): Step =>
            async (ch) => {
              await ch.assertQueue(levelName(ex, k), {
                durable: true,
                autoDelete: false,
                exclusive: false,
                arguments: {
                  'x-message-ttl': 2 ** k,
                  'x-dead-letter-exchange': k === 0 ? exit : levelName(ex, k - 1),
                },
              });
              await ch.bindQueue(levelName(ex, k), levelName(ex, k), '', {
                'x-match': 'all',
                [bitHeader(k)]: '1',
              });
            },
        ),
        ...levels.map(
          (k): Step =>
            (ch) =>
              ch.bindExchange(k === 0 ? exit : levelName(ex, k - 1), levelName(ex, k), '', {
                'x-match': 'all',
                [bitHeader(k)]: '0',
              }),
        ),
      ]);
    });
  }

  /** Runs `steps` on up to 8 short-lived channels at once; rejects with the first failure. */
  private async parallel(steps: readonly ((ch: Channel) => Promise<unknown>)[]): Promise<void> {
    const width = Math.min(8, steps.length);
    const channels = await Promise.all(
      Array.from({ length: width }, async () => {
        const ch = await this.link.model.createChannel();
        ch.on('error', () => {});
        return ch;
      }),
    );
    try {
      await Promise.all(
        channels.map(async (ch, lane) => {
          for (let i = lane; i < steps.length; i += width)
            await (steps[i] as (c: Channel) => Promise<unknown>)(ch);
        }),
      );
    } finally {
      await Promise.all(channels.map((ch) => ch.close().catch(() => {})));
    }
  }

  /** Forgets what was declared for `queue`, so the next use declares it again (it may have been deleted). */
  forget(queue: string): void {
    this.prepared.clear();
    for (const key of [...this.done.keys()]) {
      if (
        key.startsWith(`queue\u0000${queue}\u0000`) ||
        (queue === this.options.deadLetterQueue && key === 'dlq')
      )
        this.done.delete(key);
    }
  }

  /** Forgets everything (after a publish found the exchange missing). */
  reset(): void {
    this.prepared.clear();
    this.done.clear();
  }

  /** Closes the declaration channel. */
  async close(): Promise<void> {
    const ch = this.channel;
    this.channel = undefined;
    if (ch !== undefined) await ch.then((c) => c.close()).catch(() => {});
  }

  private once(key: string, what: string, fn: (ch: Channel) => Promise<unknown>): Promise<void> {
    let p = this.done.get(key);
    if (!p) {
      p = this.run(what, fn).then(() => {});
      this.done.set(key, p);
      // A failed declaration is not remembered: the next use tries again.
      p.catch(() => {
        if (this.done.get(key) === p) this.done.delete(key);
      });
    }
    return p;
  }

  private run(what: string, fn: (ch: Channel) => Promise<unknown>): Promise<unknown> {
    const next = this.chain.then(async () => {
      try {
        return await fn(await this.getChannel());
      } catch (err) {
        throw declareError(what, err, this.link.closed);
      }
    });
    this.chain = next.catch(() => {});
    return next;
  }

  private getChannel(): Promise<Channel> {
    if (!this.channel) {
      const p = this.link.model.createChannel().then((ch) => {
        // A refused declaration closes the channel; the next one opens a fresh channel.
        ch.on('error', () => {});
        ch.on('close', () => {
          if (this.channel === p) this.channel = undefined;
        });
        return ch;
      });
      this.channel = p;
      p.catch(() => {
        if (this.channel === p) this.channel = undefined;
      });
    }
    return this.channel;
  }
}
