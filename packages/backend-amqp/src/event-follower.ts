import type { Link } from '@machinery/amqp-connection';
import { errorText, type Logger, redactText, type TaskEvent } from '@machinery/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ControlChannels } from './control-channels.js';

const noop = () => {};
const PREFETCH = 500;
const RETRY_MS = 1000;

/**
 * One follower of the event stream, on a channel of its own: starts at the stream's end (`next`), and
 * after a lost connection resumes from the offset after the last event it read, so events published
 * meanwhile still reach it, in order.
 */
export class EventFollower {
  private nextOffset: number | undefined;
  private channel: Channel | undefined;
  /** The connection attached to (or being attached to), and how that went. */
  private attached: { link: Link; done: Promise<void> } | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly detachLink: () => void;

  constructor(
    private readonly channels: ControlChannels,
    private readonly stream: string,
    private readonly logger: Logger,
    private readonly listener: (event: TaskEvent) => void,
  ) {
    this.detachLink = channels.manager.onLink((link) => this.reattach(link));
  }

  /** Resolves once the follower receives what is published from now on. */
  async start(): Promise<void> {
    try {
      await this.channels.run('following task events', (link) => this.attachOnce(link));
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  /** Stops; nothing more is delivered. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.detachLink();
    this.channel?.close().catch(noop);
    this.channel = undefined;
  }

  /** Attaches once per connection: `start()` and the new-connection listener may both ask. */
  private attachOnce(link: Link): Promise<void> {
    if (this.attached?.link !== link) {
      const done = this.attach(link);
      const entry = { link, done };
      this.attached = entry;
      done.catch(() => {
        if (this.attached === entry) this.attached = undefined;
      });
    }
    return (this.attached as { done: Promise<void> }).done;
  }

  private async attach(link: Link): Promise<void> {
    await this.channels.ensure(link, 'events');
    const ch = await this.channels.open(link);
    if (this.stopped) {
      await ch.close().catch(noop);
      return;
    }
    this.channel = ch;
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.channel = undefined;
      if (this.attached?.link === link) this.attached = undefined;
      // Under a live connection (the stream was deleted, a channel error): try again in a while.
      if (!this.stopped && !link.closed) this.later(link);
    });
    await ch.prefetch(PREFETCH);
    await ch.consume(this.stream, (m) => this.deliver(ch, m), {
      noAck: false,
      arguments: { 'x-stream-offset': this.nextOffset ?? 'next' },
    });
  }

  private reattach(link: Link): void {
    if (this.stopped) return;
    this.attachOnce(link).catch((err) => {
      if (this.stopped || link.closed) return;
      this.logger.warn(
        { err: redactText(errorText(err)) },
        'AMQP control plane: cannot follow task events; retrying',
      );
      this.later(link);
    });
  }

  private later(link: Link): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!link.closed) this.reattach(link);
    }, RETRY_MS);
    this.retry.unref();
  }

  private deliver(ch: Channel, m: ConsumeMessage | null): void {
    if (m === null || this.stopped) return;
    const offset = m.properties.headers?.['x-stream-offset'];
    if (typeof offset === 'number') this.nextOffset = offset + 1;
    let events: unknown;
    try {
      events = JSON.parse(m.content.toString('utf8'));
    } catch {
      this.logger.warn({}, 'AMQP control plane: ignored an unreadable task event message');
    }
    if (Array.isArray(events)) {
      for (const event of events) {
        try {
          this.listener(event as TaskEvent);
        } catch {
          // A listener's failure is its own concern.
        }
      }
    }
    try {
      ch.ack(m);
    } catch {
      // The channel is closing.
    }
  }
}
