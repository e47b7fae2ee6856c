import { backoffDelay, MachineryError, redactText, redactUrl } from '@machinery/core';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { trackRedisConnectionErrors } from './connection-errors.js';

/** Default Redis URL: the local server. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Reconnect delay after the `attempt`-th failure: exponential from 100 ms, capped at 2 s, jittered so
 * that many processes do not reconnect in lockstep after a restart.
 */
export function redisReconnectDelay(attempt: number): number {
  return backoffDelay(attempt, 100, 2000);
}

/**
 * Creates a client an adapter owns, from `url` (default {@link DEFAULT_REDIS_URL}) and the user's
 * `options`: capped jittered reconnects ({@link redisReconnectDelay}), no auto-pipelining (the adapters
 * batch their own commands), replies in RESP2 shapes whatever protocol the options pick. Its
 * connection errors are redacted as they happen, and the last one is kept for error messages
 * ({@link trackRedisConnectionErrors}).
 * @throws MachineryError `ERR_INVALID_ARGUMENT` for a URL ioredis cannot parse (Node's own error
 *   would carry the whole URL, password included).
 */
export function createRedisClient(url?: string, options?: RedisOptions): Redis {
  const target = url ?? DEFAULT_REDIS_URL;
  let client: Redis;
  try {
    client = new Redis(target, {
      enableAutoPipelining: false,
      retryStrategy: redisReconnectDelay,
      ...options,
      replyMapping: 'legacy',
    });
  } catch (err) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `Cannot use the Redis URL ${redactUrl(target)}: ${redactText(err instanceof Error ? err.message : String(err))}. Expected redis://[user:password@]host[:port][/db], or rediss://… for TLS; percent-encode special characters of the password.`,
    );
  }
  trackRedisConnectionErrors(client);
  return client;
}

/** Where a client points, for messages (no credentials). */
export function describeRedisClient(client: Redis | Cluster): string {
  if (client instanceof Cluster) return 'Redis Cluster';
  const o = client.options;
  if (o.sentinels && o.sentinels.length > 0) return `Redis Sentinel group "${o.name ?? ''}"`;
  if (o.path) return `Redis at ${o.path}`;
  return `Redis at ${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

/**
 * Closes a connection at once and fails whatever it still had queued. ioredis leaves queued commands
 * pending forever when `disconnect()` is called while it is reconnecting (its close handler, which
 * fails them, has already run), so they are failed here the way ioredis itself does.
 */
export function dropRedisConnection(conn: Redis | Cluster): void {
  conn.disconnect();
  const flush = (conn as unknown as { flushQueue?: (err: Error) => void }).flushQueue;
  if (conn.status !== 'end' && typeof flush === 'function')
    flush.call(conn, new Error('Connection is closed.'));
}

/**
 * Closes a client politely: `QUIT` when it is connected (so replies in flight still arrive), bounded
 * by `graceMs`, then {@link dropRedisConnection} whatever happened. For clients an adapter created
 * itself; a client the user passed in is theirs to close.
 */
export async function closeRedisClient(client: Redis | Cluster, graceMs = 2000): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.quit(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
    } catch {
      // Already disconnected: nothing left to say goodbye to.
    } finally {
      clearTimeout(timer);
    }
  }
  dropRedisConnection(client);
}
