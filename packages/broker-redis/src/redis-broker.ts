import {
  type Broker,
  type BrokerCapabilities,
  type ConsumeOptions,
  type Consumer,
  checkPurge,
  childLogger,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DeadLetter,
  type Delivery,
  decodeSignature,
  encodeForPublish,
  type Logger,
  MachineryError,
  type PurgeCounts,
  type PurgeOptions,
  redactText,
  resolveLogger,
  type Signature,
} from '@machinery/core';
import {
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  hasHashTag,
  LuaScript,
  PUBLICATION_CARRIER,
  type PublicationCarrier,
  redisConnectionError,
} from '@machinery/redis-connection';
import { Cluster, type Redis } from 'ioredis';
import { Bells } from './bells.js';
import { CarriedPublications } from './carried-publications.js';
import { RedisConsumer } from './consumer.js';
import type { BrokerContext } from './context.js';
import { DelayedMover } from './delayed-mover.js';
import { Keys } from './keys.js';
import {
  DEFAULT_LEASE_MS,
  MAX_BATCH_SIZE,
  MAX_PRIORITY_LEVELS,
  type RedisBrokerOptions,
  type ResolvedBrokerOptions,
} from './options.js';
import { etaScore, PublicationBatch } from './publication-batch.js';
import { PushBatcher } from './push-batcher.js';
import { PUBLISH_MANY, PURGE, REQUEUE_DEAD } from './scripts.js';

const publishManyScript = new LuaScript(PUBLISH_MANY);
const purgeScript = new LuaScript(PURGE);
const requeueDeadScript = new LuaScript(REQUEUE_DEAD);

function positiveInt(name: string, value: number | undefined, fallback: number, max = Infinity): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RedisBroker option ${name} must be an integer between 1 and ${max}, got ${value}.`,
    );
  }
  return value;
}

function resolveOptions(options: RedisBrokerOptions): ResolvedBrokerOptions {
  const leaseMs = positiveInt('leaseMs', options.leaseMs, DEFAULT_LEASE_MS);
  if (leaseMs < 100) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RedisBroker option leaseMs must be at least 100, got ${leaseMs}.`,
    );
  }
  const defaultQueue = options.defaultQueue ?? 'machinery_tasks';
  if (defaultQueue === '') {
    throw new MachineryError('ERR_INVALID_ARGUMENT', 'RedisBroker option defaultQueue must not be empty.');
  }
  const wireFormat = options.wireFormat ?? 'compact';
  if (wireFormat !== 'compact' && wireFormat !== 'go') {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RedisBroker option wireFormat must be 'compact' or 'go', got ${String(wireFormat)}.`,
    );
  }
  const maxPriority = options.maxPriority ?? 0;
  if (!Number.isInteger(maxPriority) || maxPriority < 0 || maxPriority > MAX_PRIORITY_LEVELS) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RedisBroker option maxPriority must be an integer from 0 (no priorities) to ${MAX_PRIORITY_LEVELS}, got ${maxPriority}.`,
    );
  }
  return {
    wireFormat,
    maxPriority,
    prefix: options.prefix ?? '',
    defaultQueue,
    delayedTasksKey: options.delayedTasksKey ?? 'delayed_tasks',
    leaseMs,
    reaperIntervalMs: positiveInt(
      'reaperIntervalMs',
      options.reaperIntervalMs,
      Math.min(5000, Math.floor(leaseMs / 2)),
    ),
    batchSize: positiveInt('batchSize', options.batchSize, 500, MAX_BATCH_SIZE),
    delayedPollMs: positiveInt('delayedPollMs', options.delayedPollMs, 40),
    blockTimeoutMs: positiveInt('blockTimeoutMs', options.blockTimeoutMs, 5000),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
  };
}

/**
 * A Redis broker in Go Machinery's layout — tasks are `RPUSH`ed as Go's Signature JSON onto the list
 * named by their routing key, delayed tasks wait in the `delayed_tasks` sorted set scored by ETA in
 * Unix nanoseconds — with at-least-once delivery on top: a task moves atomically from its queue into
 * a lease held by one worker, the lease is renewed while the task runs and removed only when the
 * worker acknowledges (after the outcome is stored). A killed worker's tasks return to their queue
 * when its leases expire (10 s by default). Go workers and producers can share the queues.
 *
 * @example
 * ```ts
 * const broker = new RedisBroker({ url: 'redis://127.0.0.1:6379' })
 * const server = new Server({ broker, backend: new RedisBackend() })
 * ```
 */
export class RedisBroker implements Broker {
  /** `priorities` holds with a `maxPriority` option of 1 or more. */
  readonly capabilities: BrokerCapabilities;
  readonly defaultQueue: string;
  /** The ioredis client in use (the one passed in, or the one the broker created). */
  readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly ctx: BrokerContext;
  private readonly logger: Logger;
  private readonly mover: DelayedMover;
  /** Gathers the immediate publishes of one event-loop turn into one `RPUSH` per queue. */
  private readonly pushes: PushBatcher;
  private readonly publications: CarriedPublications;
  private readonly consumers = new Set<RedisConsumer>();
  /** Rings idle consumers when a task lands on a priority list (with `maxPriority` only). */
  private readonly bells: Bells | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RedisBrokerOptions = {}) {
    const resolved = resolveOptions(options);
    this.defaultQueue = resolved.defaultQueue;
    this.capabilities = {
      delays: true,
      maxDelayMs: Number.POSITIVE_INFINITY,
      priorities: resolved.maxPriority > 0,
      fifoGroups: false,
      redelivery: true,
      leaseRenewal: true,
      atomicBulkPublish: true,
      deadLetterInspection: true,
      pendingInspection: true,
      delayedInspection: true,
      purge: { pending: true, delayed: true, deadLetters: true },
      // Renewed every third of it by this process: a Worker warns when its loop stalls that long.
      leaseMs: resolved.leaseMs,
    };
    this.logger = childLogger(resolveLogger(options.logger), { component: 'redis-broker' });
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createRedisClient(options.url, options.clientOptions);
      this.ownsClient = true;
      this.watch(this.client);
    }
    if (this.client.options.keyPrefix) {
      if (this.ownsClient) this.client.disconnect();
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `The ioredis option keyPrefix (${JSON.stringify(this.client.options.keyPrefix)}) is not supported: the broker's scripts name keys themselves. Use the broker's own prefix option instead.`,
      );
    }
    if (this.client instanceof Cluster && !hasHashTag(resolved.prefix)) {
      if (this.ownsClient) this.client.disconnect();
      throw new MachineryError(
        'ERR_INVALID_ARGUMENT',
        `A Redis Cluster needs a key prefix with a hash tag, e.g. prefix: '{machinery}:', so that a queue, its leases and the delayed set share one slot (got prefix ${JSON.stringify(resolved.prefix)}).`,
      );
    }
    const where = options.client ? describeRedisClient(this.client) : (options.url ?? DEFAULT_REDIS_URL);
    this.ctx = {
      client: this.client,
      keys: new Keys(resolved.prefix, resolved.delayedTasksKey, resolved.maxPriority),
      options: resolved,
      logger: this.logger,
      where,
      reportError: (what, err) => {
        this.logger.error(
          { err: redactText(err instanceof Error ? err.message : String(err)) },
          `${what} failed`,
        );
      },
    };
    this.mover = new DelayedMover(this.ctx);
    this.pushes = new PushBatcher(this.client);
    this.publications = new CarriedPublications({
      client: this.client,
      keys: this.ctx.keys,
      encode: (signature) => {
        this.assertOpen();
        return this.encode(signature);
      },
      delayed: (etaMs) => this.mover.poke(etaMs),
    });
    if (resolved.maxPriority > 0) this.bells = new Bells(this.ctx);
  }

  private watch(client: Redis | Cluster): void {
    let down = false;
    client.on('error', (err: Error) => {
      if (down) return;
      down = true;
      this.logger.warn({ err: redactText(err.message) }, 'Redis connection lost; reconnecting');
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.info({}, 'Redis connection restored');
    });
  }

  /**
   * Offers this broker's publications to a Redis backend on the same server, which stores a task's
   * `PENDING` state and publishes it in one script call (see `publicationCarrier`).
   */
  get [PUBLICATION_CARRIER](): PublicationCarrier | undefined {
    return this.closing === undefined ? this.publications : undefined;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new MachineryError(
        'ERR_CLOSED',
        'The Redis broker is closed. Create a new RedisBroker to continue.',
      );
    }
  }

  async publish(signature: Signature): Promise<void> {
    this.assertOpen();
    const { queue, body } = this.encode(signature);
    const eta = signature.eta;
    try {
      if (eta !== null && eta.getTime() > Date.now()) {
        await this.client.zadd(this.ctx.keys.delayed, etaScore(eta), body);
        this.mover.poke(eta.getTime());
      } else if (signature.priority > 0 && this.ctx.options.maxPriority > 0) {
        const keys = this.ctx.keys;
        await this.pushes.push(keys.listOf(queue, signature.priority), body, keys.queue(queue).bell);
      } else {
        await this.pushes.push(this.ctx.keys.queue(queue).queue, body);
      }
    } catch (err) {
      throw redisConnectionError(`Publishing task "${signature.name}"`, this.ctx.where, err, this.ctx.client);
    }
  }

  async publishMany(signatures: readonly Signature[]): Promise<void> {
    this.assertOpen();
    // Encode everything first: one bad signature publishes nothing.
    const batch = new PublicationBatch(this.ctx.keys);
    for (const sig of signatures) {
      const { queue, body } = this.encode(sig);
      batch.add(sig, queue, body);
    }
    if (signatures.length === 0) return;
    const { keys, args } = batch.script();
    try {
      await publishManyScript.run(this.client, keys, args);
    } catch (err) {
      throw redisConnectionError(
        `Publishing ${signatures.length} tasks`,
        this.ctx.where,
        err,
        this.ctx.client,
      );
    }
    if (batch.earliest < Number.POSITIVE_INFINITY) this.mover.poke(batch.earliest);
  }

  private encode(signature: Signature): { queue: string; body: string } {
    return encodeForPublish(
      signature,
      this.defaultQueue,
      this.ctx.options.maxMessageBytes,
      this.ctx.options.wireFormat,
    );
  }

  async consume(
    queue: string,
    onDelivery: (delivery: Delivery) => void,
    options: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    if (queue === '') throw new MachineryError('ERR_INVALID_ARGUMENT', 'consume() needs a queue name.');
    const capacity = Math.max(1, options.concurrency + options.prefetch);
    const consumer = new RedisConsumer(this.ctx, queue, onDelivery, capacity, () => {
      // The mover runs while this broker consumes; stopped consumers stay listed until close().
      if ([...this.consumers].every((c) => c.isStopped)) void this.mover.stop();
    });
    this.consumers.add(consumer);
    try {
      // Subscribed before the first claim: a task pushed onto a priority list after that claim rings.
      if (this.bells)
        consumer.onBell(await this.bells.listen(this.ctx.keys.queue(queue).bell, () => consumer.ring()));
      await consumer.start();
    } catch (err) {
      await consumer.close();
      throw redisConnectionError(`Starting to consume "${queue}"`, this.ctx.where, err, this.ctx.client);
    }
    this.mover.start();
    return { stop: () => consumer.stop() };
  }

  /**
   * Tasks waiting in `queue`, in the order they would be delivered: with priorities, those of every
   * priority list, highest first, then the queue list.
   */
  async pendingTasks(
    queue: string = this.defaultQueue,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Signature[]> {
    try {
      const keys = this.ctx.keys.queue(queue);
      const bodies: string[] = [];
      for (const list of [...keys.levels, keys.queue]) {
        if (bodies.length >= limit) break;
        bodies.push(...(await this.client.lrange(list, 0, lastIndex(limit - bodies.length))));
      }
      return decodeAll(bodies);
    } catch (err) {
      throw redisConnectionError('Listing pending tasks', this.ctx.where, err, this.ctx.client);
    }
  }

  async delayedTasks(limit = Number.POSITIVE_INFINITY): Promise<Signature[]> {
    try {
      const bodies = await this.client.zrange(this.ctx.keys.delayed, 0, String(lastIndex(limit)));
      return decodeAll(bodies);
    } catch (err) {
      throw redisConnectionError('Listing delayed tasks', this.ctx.where, err, this.ctx.client);
    }
  }

  async deadLetters(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    let entries: string[];
    try {
      entries = await this.client.lrange(this.ctx.keys.dead, 0, lastIndex(limit));
    } catch (err) {
      throw redisConnectionError('Listing dead letters', this.ctx.where, err, this.ctx.client);
    }
    return entries.map(parseDeadLetter);
  }

  async requeueDeadLetters(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.assertOpen();
    try {
      const moved = await requeueDeadScript.run(
        this.client,
        [this.ctx.keys.dead],
        [
          limit === Number.POSITIVE_INFINITY ? 2 ** 31 : Math.max(0, Math.floor(limit)),
          this.ctx.keys.prefix,
          this.defaultQueue,
          this.ctx.options.maxPriority,
        ],
      );
      return Number(moved);
    } catch (err) {
      throw redisConnectionError('Requeueing dead letters', this.ctx.where, err, this.ctx.client);
    }
  }

  /**
   * Removes, from `queue`, its waiting tasks (the list Go pushes to, and its priority lists with
   * `maxPriority`), its delayed tasks (members of
   * the delayed set routed to it) and/or its dead letters, in one atomic script; returns how many of
   * each. Leased tasks, and tasks a consumer has already moved to its staging list, stay. Result
   * states are not changed. Scans the whole delayed set and dead-letter list when those are asked for.
   */
  async purge(queue: string, options: PurgeOptions): Promise<PurgeCounts> {
    this.assertOpen();
    const request = checkPurge('RedisBroker', queue, options, {
      pending: true,
      delayed: true,
      deadLetters: true,
    });
    const flag = (on: boolean) => (on ? '1' : '0');
    let out: unknown;
    try {
      out = await purgeScript.run(
        this.client,
        [
          this.ctx.keys.queue(queue).queue,
          this.ctx.keys.delayed,
          this.ctx.keys.dead,
          ...this.ctx.keys.queue(queue).levels,
        ],
        [flag(request.pending), flag(request.delayed), flag(request.deadLetters), queue, this.defaultQueue],
      );
    } catch (err) {
      throw redisConnectionError(`Purging queue "${queue}"`, this.ctx.where, err, this.ctx.client);
    }
    const [pending, delayed, deadLetters] = (out as number[]).map(Number);
    return { pending: pending ?? 0, delayed: delayed ?? 0, deadLetters: deadLetters ?? 0 };
  }

  /**
   * Stops every consumer, sends pending acknowledgements, and closes the connections the broker
   * opened (a client passed in stays open). Unsettled deliveries are redelivered once their leases
   * expire. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // Publishes gathered in this turn go out before anything else, so none queues behind QUIT.
    this.pushes.flush();
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.mover.stop();
    await this.bells?.close();
    if (this.ownsClient) await closeRedisClient(this.client);
  }
}

/** The last index an LRANGE/ZRANGE of `limit` entries reads (-1: to the end). */
function lastIndex(limit: number): number {
  return limit === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.floor(limit)) - 1;
}

function decodeAll(bodies: string[]): Signature[] {
  const out: Signature[] = [];
  for (const b of bodies) {
    try {
      out.push(decodeSignature(b));
    } catch {
      // Inspection shows tasks; an undecodable body is dead-lettered once a consumer takes it.
    }
  }
  return out;
}

function parseDeadLetter(entry: string): DeadLetter {
  try {
    const d = JSON.parse(entry) as { body?: unknown; reason?: unknown; queue?: unknown; at?: unknown };
    if (typeof d.body === 'string') {
      return {
        body: d.body,
        reason: typeof d.reason === 'string' ? d.reason : '',
        queue: typeof d.queue === 'string' ? d.queue : '',
        at: typeof d.at === 'number' ? new Date(d.at) : null,
      };
    }
  } catch {
    // Not one of ours: shown as it is.
  }
  return { body: entry, reason: 'unreadable dead-letter entry', queue: '', at: null };
}
