import { type ConnectionManager, type Link, replyCode } from '@machinery/amqp-connection';
import { errorText, isMachineryError, type Logger, MachineryError, redactText } from '@machinery/core';
import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { type ControlNames, eventsOptions, type LogKind, logOptions } from './control-names.js';

const noop = () => {};

/** What the control plane declares on demand. */
export type Topology = LogKind | 'events';

/** An error for a failed control plane operation that says what to do. */
export function controlError(what: string, err: unknown, lost: boolean): MachineryError {
  if (isMachineryError(err)) return err;
  const text = redactText(errorText(err));
  if (lost) {
    return new MachineryError(
      'ERR_CONNECTION',
      `The connection to RabbitMQ was lost while ${what} (${text}).`,
      {
        cause: err,
      },
    );
  }
  if (replyCode(err) === 406) {
    return new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RabbitMQ refused ${what}: ${text}. A control plane stream exists with other arguments — every process sharing the prefix must use the same stateRetentionMs (or delete the stream to change it).`,
      { cause: err },
    );
  }
  return new MachineryError('ERR_CONNECTION', `RabbitMQ failed while ${what}: ${text}.`, { cause: err });
}

/**
 * The control plane's use of its connection: one confirm channel per connection for writes, channels of
 * their own for anything that may fail (a 404 or 406 closes the channel it happens on), topology
 * declared once per connection, and operations run again on the next connection when one is lost.
 */
export class ControlChannels {
  private confirm: { link: Link; channel: Promise<ConfirmChannel>; closed: boolean } | undefined;
  private readonly declared = new WeakMap<Link, Map<Topology, Promise<void>>>();
  private readonly opened = new Set<Channel>();

  constructor(
    readonly manager: ConnectionManager,
    private readonly names: ControlNames,
    private readonly retentionMs: number,
    readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `fn` on a live connection; when the connection is lost meanwhile, runs it again on the next
   * one, until `timeoutMs` has passed.
   */
  async run<T>(what: string, fn: (link: Link) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const link = await this.manager.link(Math.max(1, deadline - Date.now()));
      try {
        return await fn(link);
      } catch (err) {
        if (link.closed && Date.now() < deadline && !isMachineryError(err, 'ERR_CLOSED')) continue;
        throw controlError(what, err, link.closed);
      }
    }
  }

  /** A channel of its own on `link`, closed by {@link closeAll} if still open. */
  async open(link: Link): Promise<Channel> {
    const ch = await link.model.createChannel();
    ch.on('error', noop);
    this.opened.add(ch);
    ch.on('close', () => this.opened.delete(ch));
    return ch;
  }

  /** Runs `fn` on a channel of its own, closed afterwards. */
  async withChannel<T>(link: Link, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.open(link);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(noop);
    }
  }

  /** Publishes on the confirm channel of `link`; resolves once RabbitMQ confirmed. */
  async publish(
    link: Link,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: Options.Publish = {},
  ): Promise<void> {
    const ch = await this.confirmChannel(link);
    await new Promise<void>((resolve, reject) => {
      try {
        ch.publish(
          exchange,
          routingKey,
          body,
          { contentType: 'application/json', ...options },
          (err: unknown) => (err ? reject(err) : resolve()),
        );
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Declares `what` on `link` once (the exchange, a stream and its binding). */
  ensure(link: Link, what: Topology): Promise<void> {
    let byLink = this.declared.get(link);
    if (byLink === undefined) {
      byLink = new Map();
      this.declared.set(link, byLink);
    }
    let done = byLink.get(what);
    if (done === undefined) {
      done = this.withChannel(link, async (ch) => {
        if (what === 'events') {
          await ch.assertQueue(this.names.events, eventsOptions());
          return;
        }
        const stream = this.names.log(what);
        await ch.assertExchange(this.names.exchange, 'direct', { durable: true });
        await ch.assertQueue(stream, logOptions(what, this.retentionMs));
        await ch.bindQueue(stream, this.names.exchange, what);
      });
      const map = byLink;
      done.catch(() => map.delete(what));
      byLink.set(what, done);
    }
    return done;
  }

  private confirmChannel(link: Link): Promise<ConfirmChannel> {
    const current = this.confirm;
    if (current && current.link === link && !current.closed) return current.channel;
    const entry = {
      link,
      closed: false,
      channel: link.model.createConfirmChannel().then((ch) => {
        ch.on('error', (err: Error) =>
          this.logger.warn({ err: redactText(err.message) }, 'AMQP control plane: channel closed'),
        );
        ch.on('close', () => {
          entry.closed = true;
        });
        return ch;
      }),
    };
    entry.channel.catch(() => {
      entry.closed = true;
    });
    this.confirm = entry;
    return entry.channel;
  }

  /** Closes every channel still open (for a connection passed in, which stays open). */
  async closeAll(): Promise<void> {
    const confirm = this.confirm;
    this.confirm = undefined;
    const channels = [...this.opened];
    this.opened.clear();
    await Promise.all([
      confirm?.channel.then((ch) => ch.close()).catch(noop),
      ...channels.map((ch) => ch.close().catch(noop)),
    ]);
  }
}
