import { randomBytes } from 'node:crypto';
import { type Lock, MachineryError } from '@machinery/core';
import {
  closeRedisClient,
  createRedisClient,
  DEFAULT_REDIS_URL,
  describeRedisClient,
  LuaScript,
  redisConnectionError,
} from '@machinery/redis-connection';
import type { Cluster, Redis } from 'ioredis';
import type { RedisLockOptions } from './options.js';
import { ACQUIRE_LOCK, RELEASE_LOCK } from './scripts.js';

const acquireScript = new LuaScript(ACQUIRE_LOCK);
const releaseScript = new LuaScript(RELEASE_LOCK);

/**
 * A cluster-wide lock on Redis for the periodic scheduler: the key set to a token with `PX ttl` unless
 * another token holds it (a resent acquire finds its own token and still succeeds), released only
 * by the holder (the token is compared in Lua, so a lock that expired and was taken by another
 * process is never deleted by the first).
 *
 * @example
 * ```ts
 * const server = new Server({ broker, backend, lock: new RedisLock({ url: 'redis://127.0.0.1:6379' }) })
 * server.schedule('@every 1m', 'report', report.signature())
 * ```
 */
export class RedisLock implements Lock {
  /** The ioredis client in use (the one passed in, or the one the lock created). */
  readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly where: string;
  private readonly held = new Map<string, string>();
  private readonly id = randomBytes(8).toString('hex');
  private counter = 0;
  private closing: Promise<void> | undefined;

  constructor(options: RedisLockOptions = {}) {
    this.prefix = options.prefix ?? '';
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
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new MachineryError('ERR_CLOSED', 'The Redis lock is closed.');
  }

  async acquire(key: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    const token = `${this.id}:${++this.counter}`;
    let reply: unknown;
    try {
      reply = await acquireScript.run(
        this.client,
        [this.prefix + key],
        [token, Math.max(1, Math.ceil(ttlMs))],
      );
    } catch (err) {
      throw redisConnectionError(`Taking lock "${key}"`, this.where, err, this.client);
    }
    if (Number(reply) !== 1) return false;
    this.held.set(key, token);
    return true;
  }

  async release(key: string): Promise<void> {
    this.assertOpen();
    const token = this.held.get(key);
    if (token === undefined) return;
    this.held.delete(key);
    try {
      await releaseScript.run(this.client, [this.prefix + key], [token]);
    } catch (err) {
      throw redisConnectionError(`Releasing lock "${key}"`, this.where, err, this.client);
    }
  }

  /** Closes the connection the lock opened (a client passed in stays open). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.ownsClient) await closeRedisClient(this.client);
    })();
    return this.closing;
  }
}
