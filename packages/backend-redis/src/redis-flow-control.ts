import {
  type ConcurrencyStore,
  type FlowControl,
  MachineryError,
  type RateLimitStore,
  type UniqueStore,
  WAKE_GRACE_MS,
} from '@machinery/core';
import {
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  LuaScript,
  redisConnectionError,
} from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import type { RedisFlowControlOptions } from './options.js';
import { type RateAsk, RateAskBatches } from './rate-ask-batches.js';
import { ACQUIRE_RATE, ACQUIRE_SLOT, CLAIM_UNIQUE, RELEASE_UNIQUE, RENEW_SLOT } from './scripts.js';

const acquireRate = new LuaScript(ACQUIRE_RATE);
const acquireSlot = new LuaScript(ACQUIRE_SLOT);
const renewSlot = new LuaScript(RENEW_SLOT);
const claimUnique = new LuaScript(CLAIM_UNIQUE);
const releaseUnique = new LuaScript(RELEASE_UNIQUE);

/**
 * Rate limits, concurrency limits and unique tasks on Redis, shared by every process pointing at the
 * same Redis and prefix; each operation is one atomic script (one round trip) timed by the Redis
 * server's clock, and the rate-limit asks of one tick on one limit share one script call. Keys, all under `<prefix>machinery_flow:`:
 * - `rate:{<task>:<key>}` — the starts of the last window (a sorted set by time, at most `max` entries),
 *   `…:line` — the end of the wait line, `…:wake:<uuid>` — a waiting task's wake-up time; all expire;
 * - `slots:{<task>:<key>}` — a sorted set of holders by lease deadline, expiring with its last lease;
 * - `unique:<task>:<key>` — the first task's UUID, with `PX forMs` (`SET NX PX`).
 * A limit's keys share a hash tag, so they live in one Redis Cluster slot.
 *
 * @example
 * ```ts
 * const server = new Server({ broker, backend, flow: new RedisFlowControl({ url: 'redis://127.0.0.1:6379' }) })
 * server.register(defineTask('fetch', fetchUrl, { rateLimit: { max: 100, perMs: 1000, key: (url) => new URL(url).host } }))
 * ```
 */
export class RedisFlowControl implements FlowControl {
  /** The ioredis client in use (the one passed in, or the one created). */
  readonly client: Redis | Cluster;
  readonly rateLimits: RateLimitStore;
  readonly concurrency: ConcurrencyStore;
  readonly unique: UniqueStore;
  private readonly ownsClient: boolean;
  private readonly where: string;
  private readonly base: string;
  private closing: Promise<void> | undefined;

  constructor(options: RedisFlowControlOptions = {}) {
    this.base = `${options.prefix ?? ''}machinery_flow:`;
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
      this.where = describeRedisClient(options.client);
    } else {
      this.client = createRedisClient(options.url, options.clientOptions);
      this.ownsClient = true;
      this.where = options.url ?? DEFAULT_REDIS_URL;
      this.client.on('error', () => {
        // Reported by the failing command; the client reconnects by itself.
      });
    }

    const asks = new RateAskBatches((key, batch) =>
      this.command(`Counting rate limit "${key}"`, async () => {
        const log = `${this.base}rate:{${key}}`;
        const rule = (batch[0] as RateAsk).rule;
        const keys = [log, `${log}:line`];
        const args: (string | number)[] = [rule.max, rule.perMs, WAKE_GRACE_MS];
        for (const a of batch) {
          keys.push(`${log}:wake:${a.uuid}`);
          args.push(a.uuid, a.rule.startWithinMs ?? 0, a.withdrawMs ?? '');
        }
        const reply = (await acquireRate.run(this.client, keys, args)) as unknown[];
        return reply.map(Number);
      }),
    );
    this.rateLimits = {
      acquire: (key, uuid, rule, withdrawMs) => asks.ask(key, uuid, rule, withdrawMs),
    };

    this.concurrency = {
      acquire: (key, holder, max, leaseMs) =>
        this.command(`Taking a concurrency slot of "${key}"`, async () => {
          const reply = await acquireSlot.run(
            this.client,
            [this.slotsKey(key)],
            [holder, max, Math.max(1, Math.ceil(leaseMs))],
          );
          return Number(reply) === 1;
        }),
      renew: (key, holder, leaseMs) =>
        this.command(`Renewing a concurrency slot of "${key}"`, async () => {
          const reply = await renewSlot.run(
            this.client,
            [this.slotsKey(key)],
            [holder, Math.max(1, Math.ceil(leaseMs))],
          );
          return Number(reply) === 1;
        }),
      release: (key, holder) =>
        this.command(`Releasing a concurrency slot of "${key}"`, async () => {
          await this.client.zrem(this.slotsKey(key), holder);
        }),
    };

    this.unique = {
      claim: (key, uuid, ttlMs) =>
        this.command(`Claiming unique key "${key}"`, async () => {
          const reply = await claimUnique.run(
            this.client,
            [this.uniqueKey(key)],
            [uuid, Math.max(1, Math.ceil(ttlMs))],
          );
          return String(reply);
        }),
      release: (key, uuid) =>
        this.command(`Releasing unique key "${key}"`, async () => {
          await releaseUnique.run(this.client, [this.uniqueKey(key)], [uuid]);
        }),
    };
  }

  private slotsKey(key: string): string {
    return `${this.base}slots:{${key}}`;
  }

  private uniqueKey(key: string): string {
    return `${this.base}unique:${key}`;
  }

  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) {
      throw new MachineryError('ERR_CLOSED', 'The Redis flow control is closed.');
    }
    try {
      return await run();
    } catch (err) {
      throw redisConnectionError(what, this.where, err, this.client);
    }
  }

  /** Closes the connection it opened (a client passed in stays open). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownsClient) await closeRedisClient(this.client);
    })();
    return this.closing;
  }
}
