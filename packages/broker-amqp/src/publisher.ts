import type { ConnectionManager, Link } from '@machinery/amqp-connection';
import { isNacked, replyCode } from '@machinery/amqp-connection';
import {
  backoffDelay,
  Dictionary,
  errorText,
  isMachineryError,
  type Logger,
  MachineryError,
  redactText,
} from '@machinery/core';
import type { ConfirmChannel, Options } from 'amqplib';
import type { Topology } from './topology.js';

/** One message to publish. */
export interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly properties: Options.Publish;
  /** Declarations the message needs before it is published, made once per connection. */
  readonly prepare: (topology: Topology) => Promise<void>;
  /** Queue whose declaration to forget when RabbitMQ returns the message as unroutable. */
  readonly target: string;
  /** For error messages: `task "add" (task_…)`. */
  readonly what: string;
}

/** How {@link Publisher.send} behaves. */
export interface SendOptions {
  /** Give up after this many ms (waiting for a connection and for confirms included). */
  readonly timeoutMs: number;
  /**
   * Publish on this connection only: when it is gone, fail with `LinkLostError` instead of waiting
   * for the next one (a requeue must not outlive the delivery it replaces).
   */
  readonly link?: Link;
}

/** The connection a {@link SendOptions.link}-bound send needed is gone. */
export class LinkLostError extends MachineryError {
  constructor() {
    super('ERR_CONNECTION', 'The connection to RabbitMQ was lost before the message was confirmed.');
    this.name = 'LinkLostError';
  }
}

/** A send waiting for its confirms. */
interface Waiting {
  readonly id: string;
  readonly deadline: number;
  readonly expire: () => void;
}

type Outcome = 'ok' | 'closed' | 'returned' | 'nacked' | 'too-large';

interface ChannelState {
  readonly link: Link;
  readonly channel: ConfirmChannel;
  readonly returned: Set<string>;
  drain: Promise<void> | undefined;
  closed: boolean;
}

/** What the publisher needs from its broker. */
export interface PublisherHost {
  readonly manager: ConnectionManager;
  readonly logger: Logger;
  topology(link: Link): Topology;
  isClosed(): boolean;
}

/**
 * Publishes with publisher confirms on one long-lived confirm channel per connection. Messages are
 * written back to back (waiting only when the socket asks for `drain`) and their confirms awaited
 * together, so a batch of 10 000 costs one round trip, not 10 000. Every message is `mandatory`: one
 * RabbitMQ cannot route comes back and fails the send instead of vanishing. Messages whose confirm
 * was lost with the connection are published again on the next connection (at-least-once), within
 * the send's time bound.
 */
export class Publisher {
  private state:
    | { readonly link: Link; readonly channel: Promise<ChannelState>; ready?: ChannelState; closed: boolean }
    | undefined;
  private seq = 0;
  private readonly nonce = Math.random().toString(36).slice(2, 8);
  // Sends waiting for confirms, checked against their deadlines by one shared timer (a timer per
  // publish would cost more than the publish). By a number of their own; not a `Set`: one comes and
  // goes per send (see core's `Dictionary`).
  private readonly waiting = new Dictionary<Waiting>();
  private waitingSeq = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly host: PublisherHost) {}

  /**
   * Publishes every message and waits until RabbitMQ confirmed each.
   * @throws MachineryError `ERR_CONNECTION` (outage longer than the bound, or refused by RabbitMQ),
   * `ERR_INVALID_ARGUMENT` (unroutable), `ERR_PAYLOAD_TOO_LARGE`, `ERR_CLOSED`; {@link LinkLostError}.
   */
  async send(messages: readonly Outgoing[], options: SendOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    let todo = messages;
    let rerouted = false;
    let lostChannels = 0;
    while (todo.length > 0) {
      if (this.host.isClosed()) throw new MachineryError('ERR_CLOSED', 'The AMQP broker is closed.');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.timeout(todo, options.timeoutMs);
      let link: Link;
      if (options.link) {
        if (options.link.closed) throw new LinkLostError();
        link = options.link;
      } else {
        const live = this.host.manager.live;
        try {
          link = live ?? (await this.host.manager.link(remaining));
        } catch (err) {
          throw isMachineryError(err, 'ERR_CONNECTION') ? this.timeout(todo, options.timeoutMs, err) : err;
        }
      }
      const topology = this.host.topology(link);
      let st: ChannelState;
      try {
        const prepares = new Set<Outgoing['prepare']>();
        for (const m of todo) if (!topology.prepared.has(m.prepare)) prepares.add(m.prepare);
        if (prepares.size > 0) {
          await Promise.all(
            [...prepares].map(async (prepare) => {
              await prepare(topology);
              topology.prepared.add(prepare);
            }),
          );
        }
        const current = this.state;
        st =
          current?.ready && current.link === link && !current.closed
            ? current.ready
            : await this.channel(link);
      } catch (err) {
        if (!link.closed) throw err;
        if (options.link) throw new LinkLostError();
        continue;
      }
      const outcomes = await this.publishAll(st, todo, deadline);
      if (outcomes === 'timeout') throw this.timeout(todo, options.timeoutMs);
      const next: Outgoing[] = [];
      let sawReturn = false;
      for (let i = 0; i < todo.length; i++) {
        const m = todo[i] as Outgoing;
        switch (outcomes[i]) {
          case 'ok':
            break;
          case 'nacked':
            throw new MachineryError(
              'ERR_CONNECTION',
              `RabbitMQ refused ${m.what} (negative publisher confirm): the queue may be full with overflow "reject-publish", or RabbitMQ failed to store it.`,
            );
          case 'too-large':
            throw new MachineryError(
              'ERR_PAYLOAD_TOO_LARGE',
              `The headers of ${m.what} exceed 64 KiB once encoded; keep large data out of headers.`,
            );
          case 'returned':
            if (rerouted) {
              throw new MachineryError(
                'ERR_INVALID_ARGUMENT',
                `RabbitMQ could not route ${m.what}: exchange "${m.exchange}" has no queue bound for routing key "${m.routingKey}". Bind a queue for it or fix the routing key.`,
              );
            }
            // Perhaps the queue was deleted after we declared it: declare again, then retry once.
            topology.forget(m.target);
            sawReturn = true;
            next.push(m);
            break;
          default:
            if (options.link) throw new LinkLostError();
            next.push(m);
        }
      }
      if (sawReturn) rerouted = true;
      if (next.length > 0 && !sawReturn && !link.closed) {
        // The channel died under a live connection (a channel error): pause before the next channel.
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(++lostChannels, 50, 1000)));
      }
      todo = next;
    }
  }

  /** Closes the confirm channel (unconfirmed sends then fail or retry). */
  async close(): Promise<void> {
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    for (const w of this.waiting.values()) w.expire();
    this.waiting.clear();
    const st = this.state;
    this.state = undefined;
    if (st) await st.channel.then((s) => s.channel.close()).catch(() => {});
  }

  private timeout(todo: readonly Outgoing[], timeoutMs: number, cause?: MachineryError): MachineryError {
    const first = todo[0] as Outgoing;
    const what = todo.length === 1 ? first.what : `${todo.length} messages (${first.what}, …)`;
    const why = cause
      ? cause.message
      : 'RabbitMQ did not confirm it: it is unreachable or blocked (resource alarm).';
    return new MachineryError(
      'ERR_CONNECTION',
      `Could not publish ${what} within ${timeoutMs} ms (publishTimeoutMs). ${why} ` +
        'A message whose confirm was lost may still have been stored; sending it again is safe for idempotent tasks.',
      cause ? { cause } : undefined,
    );
  }

  private channel(link: Link): Promise<ChannelState> {
    const current = this.state;
    if (current && current.link === link && !current.closed) return current.channel;
    const entry: {
      readonly link: Link;
      readonly channel: Promise<ChannelState>;
      ready?: ChannelState;
      closed: boolean;
    } = {
      link,
      channel: this.open(link, () => {
        entry.closed = true;
      }),
      closed: false,
    };
    this.state = entry;
    entry.channel.then(
      (ready) => {
        entry.ready = ready;
      },
      () => {
        entry.closed = true;
      },
    );
    return entry.channel;
  }

  private open(link: Link, onClose: () => void): Promise<ChannelState> {
    return link.model.createConfirmChannel().then((channel) => {
      const st: ChannelState = { link, channel, returned: new Set(), drain: undefined, closed: false };
      channel.on('return', (msg) => {
        const id = msg.properties.messageId;
        if (typeof id === 'string') st.returned.add(id);
      });
      channel.on('error', (err: Error) => {
        const code = replyCode(err);
        // 404 on publish: the exchange vanished; declare everything again before the retry.
        if (code === 404) this.host.topology(link).reset();
        this.host.logger.warn(
          { err: redactText(errorText(err)) },
          'AMQP broker: publisher channel closed by RabbitMQ',
        );
      });
      channel.on('close', () => {
        st.closed = true;
        onClose();
      });
      return st;
    });
  }

  private async publishAll(
    st: ChannelState,
    messages: readonly Outgoing[],
    deadline: number,
  ): Promise<Outcome[] | 'timeout'> {
    // One promise for the batch, settled by the last confirm: a promise per message costs more than
    // the rest of the publish.
    const outcomes = new Array<Outcome | undefined>(messages.length);
    let pending = messages.length;
    let finish: (v: Outcome[] | 'timeout') => void = () => {};
    const settled = new Promise<Outcome[] | 'timeout'>((resolve) => {
      finish = resolve;
    });
    const record = (i: number, outcome: Outcome) => {
      if (outcomes[i] !== undefined) return;
      outcomes[i] = outcome;
      if (--pending === 0) finish(outcomes as Outcome[]);
    };
    const entry: Waiting = { id: String(++this.waitingSeq), deadline, expire: () => finish('timeout') };
    this.watch(entry);
    try {
      for (let i = 0; i < messages.length; i++) {
        if (st.drain !== undefined) {
          // The socket buffer is full: wait until it drains before writing more (back-pressure).
          const drained = await Promise.race([st.drain.then(() => 'drained' as const), settled]);
          if (drained === 'timeout') return 'timeout';
        }
        this.publishOne(st, messages[i] as Outgoing, i, record);
      }
      return await settled;
    } finally {
      this.waiting.delete(entry.id);
    }
  }

  private watch(entry: Waiting): void {
    this.waiting.set(entry.id, entry);
    if (this.sweeper !== undefined) return;
    const sweep = () => {
      this.sweeper = undefined;
      const now = Date.now();
      let next = Number.POSITIVE_INFINITY;
      for (const w of this.waiting.values()) {
        if (w.deadline <= now) {
          this.waiting.delete(w.id);
          w.expire();
        } else next = Math.min(next, w.deadline);
      }
      // Deadlines are checked every 100 ms at most: precise enough for a bound measured in seconds.
      if (this.waiting.size > 0) this.sweeper = setTimeout(sweep, Math.max(100, next - now)).unref();
    };
    this.sweeper = setTimeout(sweep, Math.max(100, entry.deadline - Date.now())).unref();
  }

  private publishOne(
    st: ChannelState,
    m: Outgoing,
    i: number,
    record: (i: number, outcome: Outcome) => void,
  ): void {
    if (st.closed) {
      record(i, 'closed');
      return;
    }
    const id = `${this.nonce}-${++this.seq}`;
    // The properties object is ours (built per message): completed in place rather than copied.
    const properties = m.properties;
    properties.messageId = id;
    properties.mandatory = true;
    try {
      const ok = st.channel.publish(m.exchange, m.routingKey, m.content, properties, (err: unknown) => {
        const returned = st.returned.delete(id);
        if (err) record(i, isNacked(err) ? 'nacked' : 'closed');
        else record(i, returned ? 'returned' : 'ok');
      });
      if (!ok && !st.drain) {
        st.drain = new Promise<void>((done) => {
          const finish = () => {
            st.channel.off('drain', finish);
            st.channel.off('close', finish);
            st.drain = undefined;
            done();
          };
          st.channel.on('drain', finish);
          st.channel.on('close', finish);
        });
      }
    } catch (err) {
      record(i, err instanceof RangeError ? 'too-large' : 'closed');
    }
  }
}
