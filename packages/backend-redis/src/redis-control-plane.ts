import {
  type ControlPlane,
  type Logger,
  MachineryError,
  type PauseStore,
  type ProgressStore,
  type Revocation,
  type RevocationStore,
  redactText,
  resolveLogger,
  type TaskEvent,
  type TaskEventStream,
  type TaskProgress,
  type Unsubscribe,
  type WorkerInfo,
  type WorkerRegistry,
} from '@machinery/core';
import {
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  dropRedisConnection,
  redisConnectionError,
  trackRedisConnectionErrors,
} from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import type { RedisConnectionOptions } from './options.js';

/** Options for {@link RedisControlPlane}. */
export interface RedisControlPlaneOptions extends RedisConnectionOptions {
  /**
   * Events kept in the stream, at most (default 10 000): each publish trims it with `XADD MAXLEN ~`
   * to `maxEvents / 20` entries of up to 20 events each, so the stream's memory is bounded whatever
   * the load (and at least `maxEvents / 20` recent events are kept).
   */
  maxEvents?: number;
  /** Logger for failures of background subscriptions (default: warnings and errors to stderr). */
  logger?: Logger;
}

const DEFAULT_REVOCATION_TTL_MS = 3_600_000;
/**
 * Events per stream entry (the field `e` repeated): one `XADD` per batch of this many rather than per
 * event, which was half the Redis commands of a worker with events on.
 */
const EVENTS_PER_ENTRY = 20;

/**
 * The control plane on Redis, shared by every process pointing at the same Redis and prefix. Keys, all
 * under `<prefix>machinery_control:`:
 * - `revoked:<uuid>` — one string per revocation with `PX <ttl>`, looked up with one `MGET` per batch;
 *   announced on the pub/sub channel `revocations`;
 * - `paused` — a set of queue names; changes announced on the channel `pauses`;
 * - `workers` — a sorted set of worker ids by heartbeat deadline, with `worker_info`, a hash of their
 *   JSON infos; `list()` drops the expired ones;
 * - `events` — a stream whose entries hold up to 20 events each (the field `e`, JSON, repeated), written
 *   with one `XADD MAXLEN ~` per 20 events of a batch and read with `XREAD BLOCK` on a connection of
 *   each follower's own;
 * - `progress:<uuid>` — the task's last progress, JSON, with `PX <ttl>`.
 * One extra connection subscribes (opened on the first `onRevoke`/`onChange`), one more per event
 * follower. With a Redis Cluster, give a `prefix` with a hash tag so that batched reads stay in one slot.
 *
 * @example
 * ```ts
 * const control = new RedisControlPlane({ url: 'redis://127.0.0.1:6379' })
 * const server = new Server({ broker, backend, control })
 * await server.revoke(uuid)
 * ```
 */
export class RedisControlPlane implements ControlPlane {
  /** The ioredis client for commands (the one passed in, or the one created). */
  readonly client: Redis | Cluster;
  readonly revocations: RevocationStore;
  readonly pauses: PauseStore;
  readonly workers: WorkerRegistry;
  readonly events: TaskEventStream;
  readonly progress: ProgressStore;
  private readonly ownsClient: boolean;
  private readonly where: string;
  private readonly base: string;
  /** Stream entries kept (`maxEvents` / {@link EVENTS_PER_ENTRY}). */
  private readonly maxEntries: number;
  private readonly logger: Logger;
  private subscriber: (Redis | Cluster) | undefined;
  private subscribing: Promise<void> | undefined;
  private readonly revokeListeners = new Set<(r: readonly Revocation[]) => void>();
  private readonly pauseListeners = new Set<(queue: string, paused: boolean) => void>();
  /** Stops each event follower: its loop ends and its connection closes. */
  private readonly followers = new Set<() => void>();
  private closing: Promise<void> | undefined;

  constructor(options: RedisControlPlaneOptions = {}) {
    this.base = `${options.prefix ?? ''}machinery_control:`;
    this.maxEntries = Math.max(1, Math.ceil((options.maxEvents ?? 10_000) / EVENTS_PER_ENTRY));
    this.logger = resolveLogger(options.logger);
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
      this.where = describeRedisClient(options.client);
    } else {
      this.client = createRedisClient(options.url, options.clientOptions);
      this.ownsClient = true;
      this.where = options.url ?? DEFAULT_REDIS_URL;
      // The client reconnects by itself; an outage is logged once (failing commands report it too),
      // so that a process probing the control plane at start can say why it does not answer.
      let down = false;
      this.client.on('error', (err: Error) => {
        if (down) return;
        down = true;
        this.logger.warn(
          { err: redactText(err.message) },
          'control plane Redis connection lost; reconnecting',
        );
      });
      this.client.on('ready', () => {
        if (!down) return;
        down = false;
        this.logger.info({}, 'control plane Redis connection restored');
      });
    }
    const channelRevocations = `${this.base}revocations`;
    const channelPauses = `${this.base}pauses`;
    const pausedKey = `${this.base}paused`;
    const workersKey = `${this.base}workers`;
    const infoKey = `${this.base}worker_info`;
    const eventsKey = `${this.base}events`;

    this.revocations = {
      revoke: (uuids, opts = {}) =>
        this.command('Revoking tasks', async () => {
          if (uuids.length === 0) return;
          const now = Date.now();
          const ttlMs = Math.max(1, Math.ceil(opts.ttlMs ?? DEFAULT_REVOCATION_TTL_MS));
          const revocations = uuids.map((uuid) => ({
            uuid,
            reason: opts.reason ?? 'revoked',
            revokedAt: now,
          }));
          const pipeline = this.client.pipeline();
          for (const r of revocations) pipeline.set(this.revokedKey(r.uuid), JSON.stringify(r), 'PX', ttlMs);
          pipeline.publish(channelRevocations, JSON.stringify(revocations));
          await exec(pipeline);
        }),
      revoked: (uuids) =>
        this.command('Reading revocations', async () => {
          if (uuids.length === 0) return [];
          const values = await this.client.mget(uuids.map((uuid) => this.revokedKey(uuid)));
          return values.map((v) => (v === null ? undefined : (JSON.parse(v) as Revocation)));
        }),
      onRevoke: async (listener) => {
        await this.subscribe();
        return this.listen(this.revokeListeners, listener);
      },
    };

    this.pauses = {
      pause: (queue) =>
        this.command(`Pausing queue "${queue}"`, async () => {
          await exec(
            this.client
              .pipeline()
              .sadd(pausedKey, queue)
              .publish(channelPauses, JSON.stringify({ queue, paused: true })),
          );
        }),
      resume: (queue) =>
        this.command(`Resuming queue "${queue}"`, async () => {
          await exec(
            this.client
              .pipeline()
              .srem(pausedKey, queue)
              .publish(channelPauses, JSON.stringify({ queue, paused: false })),
          );
        }),
      isPaused: (queue) =>
        this.command(
          'Reading paused queues',
          async () => (await this.client.sismember(pausedKey, queue)) === 1,
        ),
      paused: () =>
        this.command('Reading paused queues', async () => (await this.client.smembers(pausedKey)).sort()),
      onChange: async (listener) => {
        await this.subscribe();
        return this.listen(this.pauseListeners, listener);
      },
    };

    this.workers = {
      heartbeat: (info, ttlMs) =>
        this.command('Recording a worker heartbeat', async () => {
          await exec(
            this.client
              .pipeline()
              .zadd(workersKey, Date.now() + ttlMs, info.id)
              .hset(infoKey, info.id, JSON.stringify(info)),
          );
        }),
      remove: (id) =>
        this.command('Removing a worker', async () => {
          await exec(this.client.pipeline().zrem(workersKey, id).hdel(infoKey, id));
        }),
      list: () =>
        this.command('Listing workers', async () => {
          const now = Date.now();
          const expired = await this.client.zrangebyscore(workersKey, '-inf', now);
          if (expired.length > 0) {
            // A killed worker never removes itself: the first reader after its deadline does.
            await exec(
              this.client
                .pipeline()
                .zremrangebyscore(workersKey, '-inf', now)
                .hdel(infoKey, ...expired),
            );
          }
          const ids = (await this.client.zrangebyscore(workersKey, `(${now}`, '+inf')).sort();
          if (ids.length === 0) return [];
          const infos = await this.client.hmget(infoKey, ...ids);
          return infos.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerInfo);
        }),
    };

    this.events = {
      publish: (events) =>
        this.command('Publishing task events', async () => {
          if (events.length === 0) return;
          const pipeline = this.client.pipeline();
          for (let i = 0; i < events.length; i += EVENTS_PER_ENTRY) {
            const fields = events.slice(i, i + EVENTS_PER_ENTRY).flatMap((e) => ['e', JSON.stringify(e)]);
            pipeline.xadd(eventsKey, 'MAXLEN', '~', this.maxEntries, '*', ...fields);
          }
          await exec(pipeline);
        }),
      subscribe: (listener) => this.follow(eventsKey, listener),
    };

    this.progress = {
      set: (taskUUID, data, ttlMs) =>
        this.command('Storing task progress', async () => {
          const progress: TaskProgress = { data, at: Date.now() };
          await this.client.set(
            this.progressKey(taskUUID),
            JSON.stringify(progress),
            'PX',
            Math.max(1, Math.ceil(ttlMs)),
          );
        }),
      get: (taskUUID) =>
        this.command('Reading task progress', async () => {
          const value = await this.client.get(this.progressKey(taskUUID));
          return value === null ? undefined : (JSON.parse(value) as TaskProgress);
        }),
    };
  }

  private revokedKey(uuid: string): string {
    return `${this.base}revoked:${uuid}`;
  }

  private progressKey(uuid: string): string {
    return `${this.base}progress:${uuid}`;
  }

  private assertOpen(): void {
    if (this.closing !== undefined)
      throw new MachineryError('ERR_CLOSED', 'The Redis control plane is closed.');
  }

  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await run();
    } catch (err) {
      throw redisConnectionError(what, this.where, err, this.client);
    }
  }

  private listen<L>(set: Set<L>, listener: L): Unsubscribe {
    set.add(listener);
    return async () => {
      set.delete(listener);
    };
  }

  /** Opens the subscriber connection once and subscribes to both channels. */
  private subscribe(): Promise<void> {
    this.assertOpen();
    this.subscribing ??= (async () => {
      const subscriber = duplicate(this.client);
      trackRedisConnectionErrors(subscriber);
      subscriber.on('error', () => {
        // The subscriber reconnects and resubscribes by itself.
      });
      this.subscriber = subscriber;
      subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
      try {
        await subscriber.subscribe(`${this.base}revocations`, `${this.base}pauses`);
      } catch (err) {
        this.subscribing = undefined;
        this.subscriber = undefined;
        dropRedisConnection(subscriber);
        throw redisConnectionError('Subscribing to control announcements', this.where, err, subscriber);
      }
    })();
    return this.subscribing;
  }

  private dispatch(channel: string, message: string): void {
    try {
      if (channel === `${this.base}revocations`) {
        const revocations = JSON.parse(message) as Revocation[];
        for (const listener of [...this.revokeListeners]) safely(() => listener(revocations));
      } else if (channel === `${this.base}pauses`) {
        const { queue, paused } = JSON.parse(message) as { queue: string; paused: boolean };
        for (const listener of [...this.pauseListeners]) safely(() => listener(queue, paused));
      }
    } catch (err) {
      this.logger.warn({ err, channel }, 'ignored an unreadable control announcement');
    }
  }

  /** Follows the event stream from its current end on a connection of its own (`XREAD BLOCK`). */
  private async follow(key: string, listener: (event: TaskEvent) => void): Promise<Unsubscribe> {
    this.assertOpen();
    const conn = duplicate(this.client);
    trackRedisConnectionErrors(conn);
    conn.on('error', () => {
      // Reported by the failing read; the loop retries.
    });
    let stopped = false;
    const stop = () => {
      stopped = true;
      this.followers.delete(stop);
      dropRedisConnection(conn);
    };
    this.followers.add(stop);
    let lastId: string;
    try {
      const [last] = (await conn.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
      lastId = last?.[0] ?? '0-0';
    } catch (err) {
      stop();
      throw redisConnectionError('Following task events', this.where, err, conn);
    }
    const loop = async () => {
      while (!stopped) {
        try {
          const reply = (await conn.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', key, lastId)) as
            | [string, [string, string[]][]][]
            | null;
          for (const [, entries] of reply ?? []) {
            for (const [id, fields] of entries) {
              lastId = id;
              // Fields come in pairs; every `e` is one event, in publication order.
              for (let i = 0; i + 1 < fields.length; i += 2) {
                const json = fields[i + 1] as string;
                if (fields[i] === 'e') safely(() => listener(JSON.parse(json) as TaskEvent));
              }
            }
          }
        } catch (err) {
          if (stopped) return;
          this.logger.warn({ err }, 'reading task events failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 500).unref());
        }
      }
    };
    void loop();
    return async () => stop();
  }

  /** Closes the connections this control plane opened (a client passed in stays open). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.revokeListeners.clear();
      this.pauseListeners.clear();
      for (const stop of [...this.followers]) stop();
      if (this.subscriber) dropRedisConnection(this.subscriber);
      if (this.ownsClient) await closeRedisClient(this.client);
    })();
    return this.closing;
  }
}

/** A new connection with the same options: a subscriber or a blocking reader cannot share one. */
function duplicate(client: Redis | Cluster): Redis | Cluster {
  // The union of the two `duplicate` signatures is not callable as is.
  return (client.duplicate as () => Redis | Cluster).call(client);
}

/** Runs a listener; its failure is its own concern. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure must not stop the others.
  }
}

/** Runs a pipeline and throws the first command's error (ioredis reports them per command). */
async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<void> {
  const replies = await pipeline.exec();
  for (const [err] of replies ?? []) if (err) throw err;
}
