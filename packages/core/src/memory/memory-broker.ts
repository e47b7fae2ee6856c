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
import { MachineryError } from '../errors.js';
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

/**
 * The in-process "server" behind {@link MemoryBroker}: queues, delayed tasks, leases and dead letters.
 * Several `MemoryBroker` instances sharing one store behave like several connections to one broker —
 * closing one (a "crashed worker") returns its unsettled deliveries to their queues.
 */
export class MemoryBrokerStore {
  /** @internal */ readonly queues = new Map<string, Envelope[]>();
  /** @internal */ readonly delayed: Delayed[] = [];
  /** @internal */ readonly leases = new Map<string, Lease>();
  /** @internal */ readonly deadLetters: DeadLetter[] = [];
  /** @internal */ readonly consumers = new Map<string, ConsumerState[]>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
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
    this.arm();
  }

  private arm(): void {
    const next = this.delayed[0];
    if (!next) return;
    if (this.timer && this.timerDue <= next.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = next.due;
    this.timer = setTimeout(() => this.moveDue(), Math.max(0, next.due - Date.now()));
  }

  private moveDue(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = Date.now();
    // Move every due task at once, each to its own queue.
    while (this.delayed.length > 0 && (this.delayed[0] as Delayed).due <= now) {
      this.enqueue((this.delayed.shift() as Delayed).envelope);
    }
    this.arm();
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
      const envelope = q.shift() as Envelope;
      this.deliver(chosen, envelope);
    }
  }

  private deliver(consumer: ConsumerState, envelope: Envelope): void {
    let signature: Signature;
    try {
      signature = decodeSignature(envelope.body, { maxBytes: consumer.owner.maxMessageBytes });
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
    this.leases.set(token, { envelope, owner: consumer.owner, consumer });
    consumer.outstanding++;
    const settle = (): Lease | undefined => {
      const lease = this.leases.get(token);
      if (!lease) return undefined;
      this.leases.delete(token);
      lease.consumer.outstanding--;
      queueMicrotask(() => this.pump(lease.consumer.queue));
      return lease;
    };
    const delivery: Delivery = {
      signature,
      queue: envelope.queue,
      attempt: envelope.deliveries,
      redelivered: envelope.deliveries > 1,
      token,
      ack: async () => settle() !== undefined,
      nack: async (options: NackOptions = {}) => {
        const lease = settle();
        if (!lease) return false;
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
      extendLease: async () => this.leases.has(token),
    };
    queueMicrotask(() => consumer.onDelivery(delivery));
  }

  /** @internal Returns every unsettled delivery of `owner` to the head of its queue, as a dropped connection does. */
  releaseOwner(owner: MemoryBroker): void {
    const returned: Envelope[] = [];
    for (const [token, lease] of this.leases) {
      if (lease.owner !== owner) continue;
      this.leases.delete(token);
      lease.consumer.outstanding--;
      returned.push(lease.envelope);
    }
    for (const env of returned.reverse()) this.enqueue(env, true);
  }

  /**
   * Puts a raw message body on `queue`, bypassing the codec — what a foreign or broken producer
   * would do. For tests of bad input.
   */
  injectRaw(queue: string, body: string): void {
    this.enqueue({ body, queue, deliveries: 0 });
  }

  /** Stops the delay timer; queued data stays. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
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
}

/**
 * A real in-process broker: FIFO queues by routing key, ETA delays, leases that return to the queue
 * when their holder closes, ack/nack, dead letters and inspection. Used by the sample apps' embedded
 * default and by tests; it passes the same conformance suites as the network brokers.
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
  };
  readonly defaultQueue: string;
  /** @internal */ readonly maxMessageBytes: number;
  private readonly store: MemoryBrokerStore;
  private readonly ownsStore: boolean;
  private closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.store = options.store ?? new MemoryBrokerStore();
    this.ownsStore = options.store === undefined;
    this.defaultQueue = options.defaultQueue ?? 'machinery_tasks';
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
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
        if (current) {
          const i = current.indexOf(state);
          if (i >= 0) current.splice(i, 1);
        }
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const list of this.store.consumers.values()) {
      for (let i = list.length - 1; i >= 0; i--)
        if ((list[i] as ConsumerState).owner === this) list.splice(i, 1);
    }
    this.store.releaseOwner(this);
    if (this.ownsStore) this.store.dispose();
  }
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
