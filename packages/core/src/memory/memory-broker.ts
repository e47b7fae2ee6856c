import { randomUUID } from 'node:crypto';
import type {
  Broker,
  BrokerCapabilities,
  ConsumeOptions,
  Consumer,
  DeadLetter,
  Delivery,
  NackOptions,
} from '../broker.js';
import { DEFAULT_MAX_MESSAGE_BYTES, decodeSignature, encodeForPublish } from '../codec.js';
import { Dictionary } from '../dictionary.js';
import { MachineryError } from '../errors.js';
import { checkPurge, type PurgeCounts, type PurgeOptions } from '../purge.js';
import type { Signature } from '../signature.js';

interface Envelope {
  readonly body: string;
  readonly queue: string;
  deliveries: number;
}

interface Lease {
  readonly envelope: Envelope;
  readonly owner: MemoryBroker;
  readonly consumer: ConsumerState;
  deadline: number;
}

interface ConsumerState {
  readonly queue: string;
  readonly capacity: number;
  readonly onDelivery: (d: Delivery) => void;
  readonly owner: MemoryBroker;
  outstanding: number;
  active: boolean;
}

interface Delayed {
  readonly due: number;
  readonly envelope: Envelope;
}

/** A one-shot timer re-armed for the earliest due time; unref'd ones never keep the process alive. */
class Alarm {
  private timer: NodeJS.Timeout | undefined;
  private due = Number.POSITIVE_INFINITY;

  constructor(
    private readonly fire: () => void,
    private readonly keepAlive: boolean,
  ) {}

  /** Makes sure the alarm fires no later than `at`. */
  arm(at: number): void {
    if (this.timer && this.due <= at) return;
    this.cancel();
    this.due = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.due = Number.POSITIVE_INFINITY;
        this.fire();
      },
      Math.max(0, at - Date.now()),
    );
    if (!this.keepAlive) this.timer.unref();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
  }
}

/**
 * The in-process "server" behind {@link MemoryBroker}: queues, delayed tasks, leases and dead letters.
 * Several `MemoryBroker` instances sharing one store behave like several connections to one broker:
 * a lease is renewed by the instance holding it, and when that instance is closed (a "crashed worker")
 * its leases expire and the tasks are delivered again.
 */
export class MemoryBrokerStore {
  /** @internal */ readonly queues = new Map<string, Envelope[]>();
  /** @internal */ readonly delayed: Delayed[] = [];
  /** @internal By token; not a `Map`: one comes and goes per task (see `Dictionary`). */
  readonly leases = new Dictionary<Lease>();
  /** @internal */ readonly deadLetters: DeadLetter[] = [];
  /** @internal */ readonly consumers = new Map<string, ConsumerState[]>();
  // Pending delayed tasks keep the process alive (they are work to do); lease expiry does not.
  private readonly delayAlarm = new Alarm(() => this.moveDue(), true);
  private readonly leaseAlarm = new Alarm(() => this.expireLeases(), false);
  private cursor = 0;

  /** @internal */
  enqueue(envelope: Envelope, atHead = false): void {
    let q = this.queues.get(envelope.queue);
    if (!q) {
      q = [];
      this.queues.set(envelope.queue, q);
    }
    if (atHead) q.unshift(envelope);
    else q.push(envelope);
    this.pump(envelope.queue);
  }

  /** @internal */
  delay(envelope: Envelope, due: number): void {
    // Insert keeping `delayed` sorted by due time (stable for equal times).
    let lo = 0;
    let hi = this.delayed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.delayed[mid] as Delayed).due <= due) lo = mid + 1;
      else hi = mid;
    }
    this.delayed.splice(lo, 0, { due, envelope });
    this.delayAlarm.arm(due);
  }

  private moveDue(): void {
    const now = Date.now();
    // Move every due task at once, each to its own queue.
    while (this.delayed.length > 0 && (this.delayed[0] as Delayed).due <= now) {
      this.enqueue((this.delayed.shift() as Delayed).envelope);
    }
    const next = this.delayed[0];
    if (next) this.delayAlarm.arm(next.due);
  }

  /** @internal Starts or extends a lease; keeps the expiry alarm armed for the earliest deadline. */
  hold(lease: Lease, ms: number): void {
    lease.deadline = Date.now() + ms;
    this.leaseAlarm.arm(lease.deadline);
  }

  private expireLeases(): void {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const expired: Lease[] = [];
    for (const [token, lease] of this.leases.keyValues()) {
      if (lease.deadline <= now) {
        this.leases.delete(token);
        lease.consumer.outstanding--;
        expired.push(lease);
      } else next = Math.min(next, lease.deadline);
    }
    // Back to the head of the queue: they were first in line before.
    for (const lease of expired.reverse()) this.enqueue(lease.envelope, true);
    if (next !== Number.POSITIVE_INFINITY) this.leaseAlarm.arm(next);
  }

  /** @internal */
  pump(queue: string): void {
    const q = this.queues.get(queue);
    const consumers = this.consumers.get(queue);
    if (!q || !consumers || consumers.length === 0) return;
    while (q.length > 0) {
      // Round-robin over consumers with a free slot.
      let chosen: ConsumerState | undefined;
      for (let i = 0; i < consumers.length; i++) {
        const c = consumers[(this.cursor + i) % consumers.length] as ConsumerState;
        if (c.active && c.outstanding < c.capacity) {
          chosen = c;
          this.cursor = (this.cursor + i + 1) % consumers.length;
          break;
        }
      }
      if (!chosen) return;
      this.deliver(chosen, q.shift() as Envelope);
    }
  }

  private deliver(consumer: ConsumerState, envelope: Envelope): void {
    const owner = consumer.owner;
    let signature: Signature;
    try {
      signature = decodeSignature(envelope.body, { maxBytes: owner.maxMessageBytes });
    } catch (err) {
      this.deadLetters.push({
        body: envelope.body,
        reason: (err as Error).message,
        queue: envelope.queue,
        at: new Date(),
      });
      return;
    }
    envelope.deliveries++;
    const token = randomUUID();
    const lease: Lease = { envelope, owner, consumer, deadline: 0 };
    this.leases.set(token, lease);
    this.hold(lease, owner.leaseMs);
    consumer.outstanding++;
    // A closed instance is a dead connection: it can no longer settle; its leases simply expire.
    const settle = (): Lease | undefined => {
      if (owner.isClosed) return undefined;
      const held = this.leases.get(token);
      if (!held) return undefined;
      this.leases.delete(token);
      held.consumer.outstanding--;
      queueMicrotask(() => this.pump(held.consumer.queue));
      return held;
    };
    const delivery: Delivery = {
      signature,
      queue: envelope.queue,
      attempt: envelope.deliveries,
      redelivered: envelope.deliveries > 1,
      token,
      ack: async () => settle() !== undefined,
      nack: async (options: NackOptions = {}) => {
        if (!settle()) return false;
        if (options.requeue === false) {
          this.deadLetters.push({
            body: envelope.body,
            reason: options.reason ?? 'rejected',
            queue: envelope.queue,
            at: new Date(),
          });
        } else if (options.delayMs !== undefined && options.delayMs > 0) {
          this.delay(envelope, Date.now() + options.delayMs);
        } else {
          this.enqueue(envelope, true);
        }
        return true;
      },
      extendLease: async (ms: number) => {
        const held = this.leases.get(token);
        if (!held || owner.isClosed) return false;
        this.hold(held, ms);
        return true;
      },
    };
    queueMicrotask(() => consumer.onDelivery(delivery));
  }

  /** @internal Renews every lease `owner` holds (its heartbeat). */
  renew(owner: MemoryBroker): void {
    for (const lease of this.leases.values()) if (lease.owner === owner) this.hold(lease, owner.leaseMs);
  }

  /**
   * Puts a raw message body on `queue`, bypassing the codec — what a foreign or broken producer
   * would do. For tests of bad input.
   */
  injectRaw(queue: string, body: string): void {
    this.enqueue({ body, queue, deliveries: 0 });
  }

  /** @internal Removes the selected parts of `queue`; leased tasks are not in any of them. */
  purge(queue: string, parts: { pending: boolean; delayed: boolean; deadLetters: boolean }): PurgeCounts {
    let pending = 0;
    const q = this.queues.get(queue);
    if (parts.pending && q) {
      pending = q.length;
      q.length = 0;
    }
    const delayed = parts.delayed ? removeWhere(this.delayed, (d) => d.envelope.queue === queue) : 0;
    const deadLetters = parts.deadLetters ? removeWhere(this.deadLetters, (d) => d.queue === queue) : 0;
    // The alarm may now fire for a removed task; moveDue() then finds nothing due and re-arms.
    return { pending, delayed, deadLetters };
  }

  /** Stops the store's timers; queued data stays. */
  dispose(): void {
    this.delayAlarm.cancel();
    this.leaseAlarm.cancel();
  }
}

/** Options for {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /** Share one store between instances to model several connections to one broker. */
  store?: MemoryBrokerStore;
  /** Queue for signatures without a routing key (default `machinery_tasks`). */
  defaultQueue?: string;
  /** Largest accepted message in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * How long a delivery stays leased without renewal (default 10 000 ms). This instance renews its
   * leases while it is open; after it is closed they expire and the tasks are delivered again.
   */
  leaseMs?: number;
}

/**
 * A real in-process broker: FIFO queues by routing key, ETA delays, leases that expire and redeliver,
 * ack/nack with fencing tokens, dead letters and inspection. Used by the sample apps' embedded default
 * and by tests; it passes the same conformance suites as the network brokers.
 *
 * @example
 * ```ts
 * const server = new Server({ broker: new MemoryBroker(), backend: new MemoryBackend() })
 * ```
 */
export class MemoryBroker implements Broker {
  readonly capabilities: BrokerCapabilities = {
    delays: true,
    maxDelayMs: Number.POSITIVE_INFINITY,
    priorities: false,
    fifoGroups: false,
    redelivery: true,
    leaseRenewal: true,
    atomicBulkPublish: true,
    deadLetterInspection: true,
    pendingInspection: true,
    delayedInspection: true,
    purge: { pending: true, delayed: true, deadLetters: true },
  };
  readonly defaultQueue: string;
  /** @internal */ readonly maxMessageBytes: number;
  /** @internal */ readonly leaseMs: number;
  private readonly store: MemoryBrokerStore;
  private readonly ownsStore: boolean;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.store = options.store ?? new MemoryBrokerStore();
    this.ownsStore = options.store === undefined;
    this.defaultQueue = options.defaultQueue ?? 'machinery_tasks';
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.heartbeat = setInterval(() => this.store.renew(this), Math.max(10, this.leaseMs / 3));
    this.heartbeat.unref();
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The memory broker is closed.');
  }

  async publish(signature: Signature): Promise<void> {
    await this.publishMany([signature]);
  }

  async publishMany(signatures: readonly Signature[]): Promise<void> {
    this.assertOpen();
    // Encode everything first so that one bad signature publishes nothing (all-or-none).
    const encoded = signatures.map((s) => ({
      ...encodeForPublish(s, this.defaultQueue, this.maxMessageBytes),
      eta: s.eta,
    }));
    const now = Date.now();
    for (const { queue, body, eta } of encoded) {
      const envelope: Envelope = { body, queue, deliveries: 0 };
      if (eta !== null && eta.getTime() > now) this.store.delay(envelope, eta.getTime());
      else this.store.enqueue(envelope);
    }
  }

  async consume(
    queue: string,
    onDelivery: (d: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    const state: ConsumerState = {
      queue,
      capacity: Math.max(1, options.concurrency + options.prefetch),
      onDelivery,
      owner: this,
      outstanding: 0,
      active: true,
    };
    const list = this.store.consumers.get(queue) ?? [];
    list.push(state);
    this.store.consumers.set(queue, list);
    queueMicrotask(() => this.store.pump(queue));
    return {
      stop: async () => {
        state.active = false;
        const current = this.store.consumers.get(queue);
        const i = current ? current.indexOf(state) : -1;
        if (i >= 0) current?.splice(i, 1);
      },
    };
  }

  async pendingTasks(
    queue: string = this.defaultQueue,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Signature[]> {
    const q = this.store.queues.get(queue) ?? [];
    return decodeAll(q.slice(0, limit).map((e) => e.body));
  }

  async delayedTasks(limit = Number.POSITIVE_INFINITY): Promise<Signature[]> {
    return decodeAll(this.store.delayed.slice(0, limit).map((d) => d.envelope.body));
  }

  async deadLetters(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    return this.store.deadLetters.slice(0, limit);
  }

  async requeueDeadLetters(limit = Number.POSITIVE_INFINITY): Promise<number> {
    const moved = this.store.deadLetters.splice(0, limit);
    for (const d of moved) this.store.enqueue({ body: d.body, queue: d.queue, deliveries: 0 });
    return moved.length;
  }

  /**
   * Removes `queue`'s waiting tasks, delayed tasks and/or dead letters (see `Broker.purge`); tasks a
   * consumer holds stay leased, and result states are not touched.
   */
  async purge(queue: string, options: PurgeOptions): Promise<PurgeCounts> {
    this.assertOpen();
    const request = checkPurge('MemoryBroker', queue, options, this.capabilities.purge ?? NO_PURGE);
    return this.store.purge(queue, request);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const list of this.store.consumers.values()) {
      for (let i = list.length - 1; i >= 0; i--)
        if ((list[i] as ConsumerState).owner === this) list.splice(i, 1);
    }
    if (this.ownsStore) this.store.dispose();
  }
}

const NO_PURGE = { pending: false, delayed: false, deadLetters: false };

/** Removes, in place and keeping order, the items `matches` selects; returns how many. */
function removeWhere<T>(items: T[], matches: (item: T) => boolean): number {
  let kept = 0;
  for (const item of items) if (!matches(item)) items[kept++] = item;
  const removed = items.length - kept;
  items.length = kept;
  return removed;
}

function decodeAll(bodies: string[]): Signature[] {
  const out: Signature[] = [];
  for (const b of bodies) {
    try {
      out.push(decodeSignature(b));
    } catch {
      // Inspection shows tasks; undecodable bodies surface through deadLetters() once consumed.
    }
  }
  return out;
}
