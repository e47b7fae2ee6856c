import { hostname } from 'node:os';
import type { Link } from '@machinery/amqp-connection';
import { errorText, type Logger, MachineryError, redactText } from '@machinery/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ControlChannels } from './control-channels.js';
import { decodeMessage, encodeMessage, type Fact, FactView, newId } from './control-facts.js';
import { type ControlNames, LIVE_QUEUE_OPTIONS, type LogKind, WORKER_LOOKBACK_MS } from './control-names.js';

const noop = () => {};
// Stream consumers need a prefetch; this many messages are in flight to a catching-up reader.
const STREAM_PREFETCH = 500;
// After the session channel closed under a live connection, how long before it is opened again.
const REOPEN_DELAY_MS = 1000;

interface LogState {
  readonly view: FactView;
  /** Where to resume reading the stream (the offset after the last one read). */
  nextOffset: number | undefined;
  /** Set once the log was caught up: changes from then on are announced. */
  announcing: boolean;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

/** What {@link ControlFeed} tells its owner. */
export interface FeedHandlers {
  /** Decisions read (from any process) once the log was caught up, one call per message. */
  onChanges(kind: LogKind, facts: readonly Fact[]): void;
}

/**
 * Keeps this process's views of the logs (`state`: revocations and pauses; `workers`: heartbeats)
 * current. Per connection, one channel holds:
 * - an exclusive live queue, bound to the control exchange for each log in use, which receives every
 *   write as it is published; a read first sends a mark to this queue and waits for it: every write
 *   RabbitMQ confirmed before is then in the view (the queue is FIFO, and a publish to an exchange is
 *   confirmed once it is in every bound queue);
 * - a consumer per log on its stream, which catches up from `lookback` (or, after a reconnect, from the
 *   offset it had reached, so nothing written meanwhile is missed) and keeps reading, as a second
 *   source for writes routed while the live queue was being bound. A mark published into the stream
 *   tells when the catch-up has reached the end.
 * Copies of one write arrive twice; facts are last-writer-wins, so a copy changes nothing.
 */
export class ControlFeed {
  private readonly logs = new Map<LogKind, LogState>();
  private session: Session | undefined;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private readonly instance = `${hostname()}.${process.pid}.${newId()}`;
  private readonly detachLink: () => void;

  constructor(
    private readonly channels: ControlChannels,
    private readonly names: ControlNames,
    private readonly retentionMs: number,
    private readonly logger: Logger,
    private readonly handlers: FeedHandlers,
  ) {
    // A new connection after a lost one: catch up and follow again, without waiting for a caller.
    this.detachLink = channels.manager.onLink((link) => this.resume(link));
  }

  /** The view of `kind`, with every write confirmed before this call applied. */
  async sync(kind: LogKind): Promise<FactView> {
    return this.channels.run(`reading the control plane's ${kind}`, async (link) => {
      for (let attempt = 1; ; attempt++) {
        const session = await this.ready(link, kind);
        try {
          await session.mark();
          return (this.logs.get(kind) as LogState).view;
        } catch (err) {
          // Its channel closed under a live connection: once more on a new one.
          if (attempt < 3 && session.failed && !link.closed && !this.closed) continue;
          throw err;
        }
      }
    });
  }

  /** Starts following `kind` (if not yet) and resolves once it is caught up. */
  async follow(kind: LogKind): Promise<void> {
    await this.channels.run(`following the control plane's ${kind}`, (link) => this.ready(link, kind));
  }

  /** Stops following; its channel goes with the connection or is closed by the channels' owner. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.detachLink();
    this.session?.fail(new MachineryError('ERR_CLOSED', 'The AMQP control plane is closed.'));
    this.session = undefined;
  }

  private logOf(kind: LogKind): LogState {
    let log = this.logs.get(kind);
    if (log === undefined) {
      log = { view: new FactView(), nextOffset: undefined, announcing: false };
      this.logs.set(kind, log);
    }
    return log;
  }

  /** The session on `link` with `kind` caught up. */
  private async ready(link: Link, kind: LogKind): Promise<Session> {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The AMQP control plane is closed.');
    this.logOf(kind);
    let session = this.session;
    if (session === undefined || session.link !== link || session.failed) {
      session = new Session(link, this);
      this.session = session;
    }
    await session.start(kind);
    return session;
  }

  private resume(link: Link): void {
    if (this.closed || this.logs.size === 0) return;
    for (const kind of this.logs.keys()) {
      this.ready(link, kind).catch((err) => {
        if (this.closed || link.closed) return;
        this.logger.warn(
          { kind, err: redactText(errorText(err)) },
          'AMQP control plane: cannot follow the control log; retrying',
        );
        this.scheduleReopen(link);
      });
    }
  }

  /** @internal The session channel closed under a live connection (e.g. its stream was deleted). */
  sessionLost(session: Session): void {
    if (this.session === session) this.session = undefined;
    if (!this.closed && !session.link.closed) this.scheduleReopen(session.link);
  }

  private scheduleReopen(link: Link): void {
    if (this.reopenTimer !== undefined) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!link.closed) this.resume(link);
    }, REOPEN_DELAY_MS);
    this.reopenTimer.unref();
  }

  /** @internal */
  get context() {
    return {
      channels: this.channels,
      names: this.names,
      instance: this.instance,
      lookback: (kind: LogKind) => (kind === 'state' ? this.retentionMs : WORKER_LOOKBACK_MS),
      log: (kind: LogKind) => this.logOf(kind),
      handlers: this.handlers,
      logger: this.logger,
    };
  }
}

/** The feed on one connection: its channel, live queue and stream consumers. */
class Session {
  failed = false;
  private channel: Promise<Channel> | undefined;
  private readonly started = new Map<LogKind, Promise<void>>();
  private readonly waiters = new Map<string, Waiter>();
  private pendingMark: Promise<void> | undefined;
  private readonly liveQueue: string;
  private readonly ctx: ControlFeed['context'];

  constructor(
    readonly link: Link,
    private readonly feed: ControlFeed,
  ) {
    this.ctx = feed.context;
    this.liveQueue = this.ctx.names.live(`${this.ctx.instance}.${link.generation}`);
  }

  start(kind: LogKind): Promise<void> {
    let started = this.started.get(kind);
    if (started === undefined) {
      started = this.catchUp(kind);
      started.catch(() => this.started.delete(kind));
      this.started.set(kind, started);
    }
    return started;
  }

  /** Sends a mark through the live queue and waits for it; the calls of one tick share one mark. */
  mark(): Promise<void> {
    this.pendingMark ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        this.pendingMark = undefined;
        const id = newId();
        this.wait(id, resolve, reject);
        this.openChannel()
          .then((ch) => {
            ch.sendToQueue(this.liveQueue, encodeMessage({ t: 'mark', id }));
          })
          .catch((err) => this.settle(id, err));
      });
    });
    return this.pendingMark;
  }

  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    for (const id of [...this.waiters.keys()]) this.settle(id, err);
    this.channel?.then((ch) => ch.close()).catch(noop);
  }

  private openChannel(): Promise<Channel> {
    this.channel ??= (async () => {
      const ch = await this.ctx.channels.open(this.link);
      ch.on('close', () => {
        const lost = new MachineryError('ERR_CONNECTION', 'The control plane channel closed.');
        if (!this.failed) {
          this.fail(lost);
          this.feed.sessionLost(this);
        }
      });
      await ch.prefetch(STREAM_PREFETCH);
      await ch.assertQueue(this.liveQueue, LIVE_QUEUE_OPTIONS);
      await ch.consume(this.liveQueue, (m) => this.onLive(m), { noAck: true });
      return ch;
    })();
    return this.channel;
  }

  private async catchUp(kind: LogKind): Promise<void> {
    const { channels, names } = this.ctx;
    await channels.ensure(this.link, kind);
    const ch = await this.openChannel();
    await ch.bindQueue(this.liveQueue, names.exchange, kind);
    const log = this.ctx.log(kind);
    const stream = names.log(kind);
    const from = log.nextOffset ?? {
      '!': 'timestamp',
      value: Math.floor((Date.now() - this.ctx.lookback(kind)) / 1000),
    };
    await ch.consume(stream, (m) => this.onStream(ch, kind, m), {
      noAck: false,
      arguments: { 'x-stream-offset': from },
    });
    const id = newId();
    const reached = new Promise<void>((resolve, reject) => this.wait(id, resolve, reject));
    await channels.publish(this.link, '', stream, encodeMessage({ t: 'mark', id }));
    await reached;
    log.announcing = true;
  }

  private wait(id: string, resolve: () => void, reject: (err: unknown) => void): void {
    if (this.failed) {
      reject(new MachineryError('ERR_CONNECTION', 'The control plane channel closed.'));
      return;
    }
    const timeoutMs = this.ctx.channels.timeoutMs;
    const timer = setTimeout(
      () =>
        this.settle(
          id,
          new MachineryError(
            'ERR_CONNECTION',
            `RabbitMQ did not deliver the control plane's own mark within ${timeoutMs} ms.`,
          ),
        ),
      timeoutMs,
    );
    this.waiters.set(id, { resolve, reject, timer });
  }

  private settle(id: string, err?: unknown): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return;
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    if (err === undefined) waiter.resolve();
    else waiter.reject(err);
  }

  private onLive(m: ConsumeMessage | null): void {
    if (m === null) return;
    const message = decodeMessage(m.content);
    if (message === undefined) return;
    if (message.t === 'mark') {
      this.settle(message.id);
      return;
    }
    const kind = m.fields.routingKey as LogKind;
    if (kind === 'state' || kind === 'workers') this.apply(kind, message.facts);
  }

  private onStream(ch: Channel, kind: LogKind, m: ConsumeMessage | null): void {
    if (m === null) {
      // The stream was deleted: the channel is closed with it, and the feed opens a new one.
      return;
    }
    const offset = m.properties.headers?.['x-stream-offset'];
    if (typeof offset === 'number') this.ctx.log(kind).nextOffset = offset + 1;
    const message = decodeMessage(m.content);
    if (message?.t === 'mark') this.settle(message.id);
    else if (message?.t === 'facts') this.apply(kind, message.facts);
    try {
      ch.ack(m);
    } catch {
      // The channel is closing; the stream needs no acknowledgement to move on.
    }
  }

  private apply(kind: LogKind, facts: readonly Fact[]): void {
    const log = this.ctx.log(kind);
    const changed = facts.filter((f) => log.view.apply(f));
    if (changed.length === 0 || !log.announcing) return;
    try {
      this.ctx.handlers.onChanges(kind, changed);
    } catch (err) {
      this.ctx.logger.warn({ err: errorText(err) }, 'AMQP control plane: a change handler failed');
    }
  }
}
