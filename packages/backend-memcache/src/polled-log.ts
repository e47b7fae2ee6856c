import { randomBytes, randomInt } from 'node:crypto';
import { type Logger, MachineryError, type Unsubscribe } from '@machinery/core';
import { expiryFor, type MemcacheStore } from './memcache-store.js';

/** Settings of a {@link PolledLog}. */
export interface PolledLogOptions {
  /** How often followers read the counter, in ms. */
  readonly pollIntervalMs: number;
  /** How long an entry stays readable, in ms. */
  readonly ttlMs: number;
  /** The most entries a follower reads back; further behind, it skips to the newest. */
  readonly maxCatchUp: number;
  readonly logger: Logger;
  /** Told how many entries a follower skipped: it was too far behind, or they never became readable. */
  readonly onSkip: (count: number, reason: string) => void;
}

/** One listener of a log, told of the entries numbered above `from`. */
interface Follower<T> {
  from: number;
  readonly deliver: (data: T) => void;
}

/** An entry as stored: a random id and the data. */
interface StoredEntry<T> {
  readonly i: string;
  readonly d: T;
}

/**
 * A counter's numbers are `epoch * 2^32 + n`: each counter starts at a random epoch (1 to 2^20 - 1), so
 * one recreated after memcached lost it (restart, eviction) never reuses the numbers of the old one,
 * and a follower tells the two apart from the counter alone. The largest number stays below 2^53.
 */
const EPOCH_SPAN = 2 ** 32;
const EPOCHS = 2 ** 20;

function epochOf(seq: number): number {
  return Math.floor(seq / EPOCH_SPAN);
}

/**
 * A log in memcached, which has neither pub/sub nor listing: `incr` of the counter `<base>seq` numbers
 * each entry, stored at `<base><n>` for `ttlMs`. Followers read the counter every `pollIntervalMs` and
 * the new entries with one multi-get; one poll serves every follower of this instance.
 *
 * Edge cases:
 * - an entry numbered but not readable (its writer is between `incr` and `set`, or died there; or it
 *   expired or was evicted before a slow follower got to it) is delivered when it shows up, within a
 *   grace period, or else skipped and counted; the entries after it are not held back. A writer awaits
 *   each append, so its own entries still arrive in its order.
 * - a follower more than `maxCatchUp` entries behind skips to the newest and counts what it skipped.
 * - a counter that memcached lost comes back in another epoch: followers read the new one from its start.
 */
export class PolledLog<T> {
  private readonly followers = new Set<Follower<T>>();
  /** The epoch of the counter read last (`undefined`: none read yet). */
  private epoch: number | undefined;
  /** The first number not read yet. */
  private next = 0;
  /** Numbers read while not readable yet, with when they were first missed. */
  private readonly pending = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private failing = false;
  private closed = false;
  private readonly gapGraceMs: number;

  constructor(
    private readonly store: MemcacheStore,
    private readonly base: string,
    private readonly options: PolledLogOptions,
  ) {
    // Long enough for a writer's `set` to follow its `incr` through memjs's timeouts and retries.
    this.gapGraceMs = Math.max(2000, 10 * options.pollIntervalMs);
  }

  private get counterKey(): string {
    return `${this.base}seq`;
  }

  private entryKey(seq: number): string {
    return `${this.base}${seq}`;
  }

  /** Appends one entry per item, numbered in order with one `incr`. */
  async append(items: readonly T[]): Promise<void> {
    if (items.length === 0) return;
    const start = randomInt(1, EPOCHS) * EPOCH_SPAN;
    const last = await this.store.increment(this.counterKey, items.length, start + items.length);
    const first = last - items.length + 1;
    const expires = expiryFor(this.options.ttlMs);
    await Promise.all(
      items.map((d, k) => {
        const entry: StoredEntry<T> = { i: randomBytes(6).toString('base64url'), d };
        return this.store.set(this.entryKey(first + k), JSON.stringify(entry), expires);
      }),
    );
  }

  /** Calls `deliver` with every entry appended from now on. Resolves once the counter was read. */
  async follow(deliver: (data: T) => void): Promise<Unsubscribe> {
    const head = await this.readHead();
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The Memcache control plane is closed.');
    if (this.followers.size === 0 && this.polling === undefined) {
      this.epoch = head === undefined ? undefined : epochOf(head);
      this.next = (head ?? 0) + 1;
      this.pending.clear();
    }
    // With no counter yet, whatever is numbered next is news.
    const follower: Follower<T> = { from: head ?? 0, deliver };
    this.followers.add(follower);
    this.schedule();
    return async () => {
      this.followers.delete(follower);
      if (this.followers.size === 0) this.stop();
    };
  }

  /** Stops polling for good; resolves once a poll under way has ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.followers.clear();
    this.stop();
    await this.polling;
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.followers.size === 0 || this.timer !== undefined || this.polling !== undefined)
      return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .then(
          () => {
            if (this.failing) this.options.logger.info({ log: this.base }, 'reading the control log again');
            this.failing = false;
          },
          (err: unknown) => {
            // Reported once per streak of failures; the next poll retries.
            if (!this.failing && !this.closed)
              this.options.logger.warn({ err, log: this.base }, 'reading the control log failed; retrying');
            this.failing = true;
          },
        )
        .finally(() => {
          this.polling = undefined;
          this.schedule();
        });
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  private async readHead(): Promise<number | undefined> {
    const raw = await this.store.get(this.counterKey);
    if (raw === undefined) return undefined;
    // memcached pads a counter that shrank with spaces.
    const head = Number(raw.trim());
    if (!Number.isSafeInteger(head) || head < 0) {
      throw new MachineryError(
        'ERR_DECODE',
        `The control log counter "${this.counterKey}" holds "${raw.slice(0, 40)}", not a count; something else wrote that key. Delete it or choose another prefix.`,
      );
    }
    return head;
  }

  private async poll(): Promise<void> {
    // A missing counter: nothing appended yet, or memcached lost it; the next append starts a new one.
    const head = await this.readHead();
    if (this.closed || head === undefined) return;
    const epoch = epochOf(head);
    if (epoch !== this.epoch || head < this.next - 1) this.restart(epoch);
    await this.read(head);
  }

  /** A new counter (the first one seen, or one recreated after memcached lost the last): read it all. */
  private restart(epoch: number): void {
    if (this.epoch !== undefined) {
      this.options.logger.warn(
        { log: this.base },
        'the control log counter was recreated (memcached restarted or evicted it); reading the new log from its start',
      );
    }
    const start = epoch * EPOCH_SPAN;
    this.epoch = epoch;
    this.next = start + 1;
    this.pending.clear();
    // Followers that subscribed before this counter existed hear all of it.
    for (const follower of this.followers) if (epochOf(follower.from) !== epoch) follower.from = start;
  }

  private async read(head: number): Promise<void> {
    let from = this.next;
    if (head - from + 1 > this.options.maxCatchUp) {
      const skipped = head - this.options.maxCatchUp + 1 - from;
      this.options.onSkip(skipped, `more than ${this.options.maxCatchUp} entries behind`);
      from += skipped;
    }
    const fresh: number[] = [];
    for (let seq = from; seq <= head; seq++) fresh.push(seq);
    const waiting = [...this.pending.keys()];
    if (fresh.length === 0 && waiting.length === 0) return;
    const values = await this.store.getMulti([...fresh, ...waiting].map((seq) => this.entryKey(seq)));
    if (this.closed) return;

    const now = Date.now();
    const arrived: [number, string][] = [];
    for (const seq of fresh) {
      const raw = values.get(this.entryKey(seq));
      if (raw === undefined) this.pending.set(seq, now);
      else arrived.push([seq, raw]);
    }
    let lost = 0;
    for (const seq of waiting) {
      const raw = values.get(this.entryKey(seq));
      if (raw !== undefined) {
        this.pending.delete(seq);
        arrived.push([seq, raw]);
      } else if (now - (this.pending.get(seq) ?? now) >= this.gapGraceMs) {
        this.pending.delete(seq);
        lost++;
      }
    }
    // Entries that expired before a slow follower read them go missing all at once: give up the oldest.
    const excess = [...this.pending.keys()].sort((a, b) => a - b).slice(0, -this.options.maxCatchUp);
    for (const seq of excess) this.pending.delete(seq);
    lost += excess.length;
    if (lost > 0) this.options.onSkip(lost, 'never readable (expired, evicted, or their writer died)');
    this.next = head + 1;

    arrived.sort((a, b) => a[0] - b[0]);
    for (const [seq, raw] of arrived) {
      const entry = decode<T>(raw);
      if (entry === undefined) {
        this.options.logger.warn({ key: this.entryKey(seq) }, 'ignored an unreadable control log entry');
        continue;
      }
      for (const follower of [...this.followers]) {
        // A follower removed meanwhile (unsubscribed by an earlier call) hears nothing more.
        if (seq > follower.from && this.followers.has(follower)) safely(() => follower.deliver(entry.d));
      }
    }
  }
}

function decode<T>(raw: string): StoredEntry<T> | undefined {
  try {
    const entry = JSON.parse(raw) as Partial<StoredEntry<T>> | null;
    return entry !== null && typeof entry === 'object' && typeof entry.i === 'string' && 'd' in entry
      ? (entry as StoredEntry<T>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a listener; its failure is its own concern. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure must not stop the others.
  }
}
