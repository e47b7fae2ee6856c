import {
  Dictionary,
  decodeTaskState,
  isCompleted,
  type Logger,
  MachineryError,
  redactText,
  type TaskState,
} from '@machinery/core';
import { dropRedisConnection, trackRedisConnectionErrors } from '@machinery/redis-connection';
import { Cluster, type Redis } from 'ioredis';

/** First pause between two re-reads of an awaited key; it doubles after each read. */
const FIRST_REREAD_MS = 50;
/** Longest pause between two re-reads: a state written without a message is seen within this. */
const MAX_REREAD_MS = 1000;
/** Keys due within this many ms of a read join it, so waiters started close together share reads. */
const GATHER_MS = 20;
/** How long the listening mark lives; it is renewed about every second while anyone waits. */
const LISTENING_MARK_MS = 3000;
/** Least pause between two renewals of the listening mark. */
const LISTENING_RENEW_MS = 1000;
/** Most keys read by one `MGET`, and most channels in one `SUBSCRIBE` or `UNSUBSCRIBE`. */
const MAX_KEYS_PER_READ = 1000;

interface Waiter {
  resolve(state: TaskState): void;
  reject(err: unknown): void;
}

interface Channel {
  readonly uuid: string;
  readonly waiters: Set<Waiter>;
  /** True once the subscription is confirmed: reads start only then, so no completion falls between. */
  subscribed: boolean;
  /** True after the first read: a failed first read fails the waiters, a later one is tried again. */
  read: boolean;
  /** When to read the key next (ms since epoch). */
  nextReadAt: number;
  /** Pause after the next read. */
  pauseMs: number;
}

/**
 * Task completion, pushed over pub/sub and re-read as a safety net. One subscriber connection per
 * backend (opened on first use); one channel per awaited task, subscribed while someone waits and
 * unsubscribed after. Once subscribed, every awaited key is read, then read again on a back-off (50 ms
 * doubling to 1 s), in one `MGET` for every key due: a writer that publishes nothing — a Go Machinery
 * worker only does `SET … EX` — still wakes the waiter, and so does a completion published while the
 * subscriber was reconnecting (every key is also read at once after a reconnect).
 */
export class CompletionWaiters {
  private subscriber: Redis | Cluster | undefined;
  private readonly channels = new Dictionary<Channel>();
  private closed = false;
  /** The next read: a timer, or an immediate when it is due now (a 0 ms timer waits 1 ms in Node). */
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private reading = false;
  /**
   * Channels to subscribe to and to leave, sent together once per event-loop turn. Replaced after
   * each turn, never cleared (see `Dictionary`: a cleared table links to its successor).
   */
  private toSubscribe = new Map<string, Channel>();
  private toUnsubscribe = new Set<string>();
  private subscriptionsScheduled = false;
  /** When the listening mark was last set (ms since epoch). */
  private markedAt = 0;

  /**
   * @param listeningKey Set (with a short expiry) while this process awaits any result, so that
   *   writers publish completions only while someone listens.
   */
  constructor(
    private readonly client: Redis | Cluster,
    private readonly channelPrefix: string,
    private readonly listeningKey: string,
    private readonly readKeys: (uuids: readonly string[]) => Promise<(string | null)[]>,
    private readonly logger: Logger,
  ) {}

  /** Resolves with the task's state once it is `SUCCESS` or `FAILURE`; rejects when `signal` aborts. */
  wait(uuid: string, signal: AbortSignal): Promise<TaskState> {
    return new Promise<TaskState>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (this.closed) return reject(closedError());
      const channel = this.channelPrefix + uuid;
      const onAbort = () => {
        this.remove(channel, waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (state) => {
          signal.removeEventListener('abort', onAbort);
          resolve(state);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.add(channel, uuid, waiter);
    });
  }

  private connection(): Redis | Cluster {
    if (!this.subscriber) {
      const sub = duplicateForSubscribe(this.client);
      sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
      sub.on('error', (err: Error) => {
        this.logger.debug({ err: redactText(err.message) }, 'result subscriber connection error');
      });
      // Messages published while the connection was down are lost: read every awaited key again now.
      sub.on('ready', () => {
        const now = Date.now();
        for (const entry of this.channels.values()) entry.nextReadAt = now;
        this.plan();
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  private add(channel: string, uuid: string, waiter: Waiter): void {
    const existing = this.channels.get(channel);
    if (existing) {
      existing.waiters.add(waiter);
      // A new waiter on a known channel gets an early read, as a first waiter would.
      if (existing.subscribed) this.readSoon(existing);
      return;
    }
    const entry: Channel = {
      uuid,
      waiters: new Set([waiter]),
      subscribed: false,
      read: false,
      nextReadAt: Number.POSITIVE_INFINITY,
      pauseMs: FIRST_REREAD_MS,
    };
    this.channels.set(channel, entry);
    // Sent again even if an UNSUBSCRIBE of it is queued or in flight: they arrive in order.
    this.toUnsubscribe.delete(channel);
    this.toSubscribe.set(channel, entry);
    this.scheduleSubscriptions();
  }

  private scheduleSubscriptions(): void {
    if (this.subscriptionsScheduled) return;
    this.subscriptionsScheduled = true;
    setImmediate(() => this.sendSubscriptions());
  }

  /**
   * Sends the subscriptions and unsubscriptions of one event-loop turn as one `SUBSCRIBE` and one
   * `UNSUBSCRIBE` (per 1000 channels): awaiting 10,000 results costs a few commands, not 20,000.
   */
  private sendSubscriptions(): void {
    this.subscriptionsScheduled = false;
    if (this.closed) return;
    this.markListening();
    const leaving = [...this.toUnsubscribe];
    this.toUnsubscribe = new Set();
    for (let i = 0; i < leaving.length; i += MAX_KEYS_PER_READ) {
      this.subscriber?.unsubscribe(...leaving.slice(i, i + MAX_KEYS_PER_READ)).catch(() => {
        // Gone with the connection: nothing stays subscribed.
      });
    }
    const joining = [...this.toSubscribe];
    this.toSubscribe = new Map();
    for (let i = 0; i < joining.length; i += MAX_KEYS_PER_READ) {
      const batch = joining.slice(i, i + MAX_KEYS_PER_READ);
      this.connection()
        .subscribe(...batch.map(([channel]) => channel))
        .then(
          () => {
            for (const [channel, entry] of batch) {
              if (this.channels.get(channel) !== entry) continue;
              entry.subscribed = true;
              entry.nextReadAt = Date.now();
            }
            this.plan();
          },
          (err: unknown) => {
            for (const [channel, entry] of batch)
              if (this.channels.get(channel) === entry) this.fail(channel, entry, err);
          },
        );
    }
  }

  private readSoon(entry: Channel): void {
    entry.nextReadAt = Date.now();
    entry.pauseMs = FIRST_REREAD_MS;
    this.plan();
  }

  private remove(channel: string, waiter: Waiter): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    entry.waiters.delete(waiter);
    if (entry.waiters.size === 0) this.release(channel);
  }

  private release(channel: string): void {
    this.channels.delete(channel);
    // Nobody waits any more: no timer keeps the process alive.
    if (this.channels.size === 0 && this.timer) {
      this.cancelRead();
      this.timerAt = Number.POSITIVE_INFINITY;
    }
    // Not subscribed yet: nothing to undo.
    if (this.toSubscribe.delete(channel)) return;
    this.toUnsubscribe.add(channel);
    this.scheduleSubscriptions();
  }

  private onMessage(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    let state: TaskState | undefined;
    try {
      state = completedState(message);
    } catch {
      // Not a state we can read: the re-read of the key decides.
      return;
    }
    if (state) this.settle(channel, entry, state);
  }

  private settle(channel: string, entry: Channel, state: TaskState): void {
    const waiters = [...entry.waiters];
    this.release(channel);
    for (const w of waiters) w.resolve(state);
  }

  private fail(channel: string, entry: Channel, err: unknown): void {
    const waiters = [...entry.waiters];
    this.release(channel);
    for (const w of waiters) w.reject(err);
  }

  /** True while someone in this process awaits the result of `uuid`. */
  isAwaiting(uuid: string): boolean {
    // A worker asks for every outcome it stores and usually awaits nothing: no key to build and look up.
    return this.channels.size > 0 && this.channels.has(this.channelPrefix + uuid);
  }

  /**
   * Keeps the listening mark set while anyone here waits (renewed at most once a second: the reads
   * run at least that often while anyone waits). A writer that has not seen it yet skips the publish;
   * the re-reads deliver that completion instead.
   */
  private markListening(): void {
    if (this.channels.size === 0) return;
    const now = Date.now();
    if (now - this.markedAt < LISTENING_RENEW_MS) return;
    this.markedAt = now;
    this.client.set(this.listeningKey, '1', 'PX', LISTENING_MARK_MS).catch((err: unknown) => {
      this.markedAt = 0;
      this.logger.debug({ err: redactText(String(err)) }, 'marking results as awaited failed');
    });
  }

  /** Sets the timer for the earliest read due, unless a read is running (it plans again when done). */
  private plan(): void {
    if (this.closed || this.reading) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.channels.values()) {
      if (entry.subscribed && entry.nextReadAt < earliest) earliest = entry.nextReadAt;
    }
    if (earliest >= this.timerAt) return;
    this.cancelRead();
    this.timerAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    const delayMs = earliest - Date.now();
    // A key due now (the first read after subscribing) is read in this turn of the event loop.
    this.timer =
      delayMs <= 0 ? setImmediate(() => this.readDue()) : setTimeout(() => this.readDue(), delayMs);
  }

  private cancelRead(): void {
    if (this.timer === undefined) return;
    if ('refresh' in this.timer) clearTimeout(this.timer);
    else clearImmediate(this.timer);
    this.timer = undefined;
  }

  private readDue(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.markListening();
    const until = Date.now() + GATHER_MS;
    const due: [string, Channel][] = [];
    for (const [channel, entry] of this.channels.keyValues()) {
      if (entry.subscribed && entry.nextReadAt <= until) due.push([channel, entry]);
    }
    if (due.length === 0) {
      this.plan();
      return;
    }
    this.reading = true;
    this.readAll(due)
      .catch((err: unknown) =>
        this.logger.error({ err: redactText(String(err)) }, 'reading awaited results failed'),
      )
      .finally(() => {
        this.reading = false;
        this.plan();
      });
  }

  private async readAll(due: [string, Channel][]): Promise<void> {
    for (let i = 0; i < due.length; i += MAX_KEYS_PER_READ) {
      const batch = due.slice(i, i + MAX_KEYS_PER_READ);
      let values: (string | null)[] | undefined;
      let failure: unknown;
      try {
        values = await this.readKeys(batch.map(([, e]) => e.uuid));
      } catch (err) {
        failure = err;
        this.logger.debug({ err: redactText(String(err)) }, 'reading awaited results failed');
      }
      const now = Date.now();
      batch.forEach(([channel, entry], j) => {
        if (this.channels.get(channel) === entry) this.afterRead(channel, entry, values?.[j], failure, now);
      });
    }
  }

  private afterRead(
    channel: string,
    entry: Channel,
    value: string | null | undefined,
    failure: unknown,
    now: number,
  ): void {
    // A first read that fails tells the caller at once (Redis unreachable); later ones are retried.
    if (failure !== undefined && !entry.read) {
      this.fail(channel, entry, failure);
      return;
    }
    let state: TaskState | undefined;
    try {
      state = completedState(value ?? null);
    } catch (err) {
      this.fail(channel, entry, err);
      return;
    }
    if (state) {
      this.settle(channel, entry, state);
      return;
    }
    entry.read = true;
    entry.nextReadAt = now + entry.pauseMs;
    entry.pauseMs = Math.min(MAX_REREAD_MS, entry.pauseMs * 2);
  }

  /** Rejects every wait with `ERR_CLOSED` and closes the subscriber connection. */
  close(): void {
    this.closed = true;
    this.cancelRead();
    const waiters = [...this.channels.values()].flatMap((e) => [...e.waiters]);
    this.channels.clear();
    this.toSubscribe.clear();
    this.toUnsubscribe.clear();
    for (const w of waiters) w.reject(closedError());
    if (this.subscriber) dropRedisConnection(this.subscriber);
    this.subscriber = undefined;
  }
}

/** A connection for pub/sub, duplicated from `client` (same server, TLS and credentials). */
function duplicateForSubscribe(client: Redis | Cluster): Redis | Cluster {
  const sub =
    client instanceof Cluster
      ? client.duplicate()
      : client.duplicate({ enableAutoPipelining: false, replyMapping: 'legacy' });
  trackRedisConnectionErrors(sub);
  return sub;
}

/** The state in `value` if it is completed; throws `DecodeError` for a value that is not a TaskState. */
function completedState(value: string | null): TaskState | undefined {
  if (value === null) return undefined;
  const state = decodeTaskState(value);
  return isCompleted(state.state) ? state : undefined;
}

function closedError(): MachineryError {
  return new MachineryError('ERR_CLOSED', 'The Redis backend is closed; results can no longer be awaited.');
}
