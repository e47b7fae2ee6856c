import { backoffDelay, isMachineryError, MachineryError, redactText, redactUrl } from '@machinery/core';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Default Redis URL: the local server. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Reconnect delay after the `attempt`-th failure: exponential from 50 ms, capped at 2 s, jittered so
 * that many processes do not reconnect in lockstep after a restart.
 */
export function reconnectDelay(attempt: number): number {
  return backoffDelay(attempt, 100, 2000);
}

/** Creates a client the backend or lock owns: auto-pipelining on, capped jittered reconnects. */
export function createClient(url: string | undefined, options: RedisOptions | undefined): Redis {
  // Replies are read in RESP2 shapes whatever protocol the options pick.
  return new Redis(url ?? DEFAULT_REDIS_URL, {
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
    ...options,
    replyMapping: 'legacy',
  });
}

/** A connection for pub/sub, duplicated from `client`. */
export function duplicateForSubscribe(client: Redis | Cluster): Redis | Cluster {
  if (client instanceof Cluster) return client.duplicate();
  return client.duplicate({ enableAutoPipelining: false, replyMapping: 'legacy' });
}

/** Where a client points, for messages (no credentials). */
export function describeClient(client: Redis | Cluster): string {
  if (client instanceof Cluster) return 'Redis Cluster';
  const o = client.options;
  if (o.sentinels && o.sentinels.length > 0) return `Redis Sentinel group "${o.name ?? ''}"`;
  if (o.path) return `Redis at ${o.path}`;
  return `Redis at ${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

/** Turns a client error into a `MachineryError` (`ERR_CONNECTION`) that says what failed, without secrets. */
export function connectionError(what: string, where: string, err: unknown): MachineryError {
  if (isMachineryError(err)) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new MachineryError(
    'ERR_CONNECTION',
    `${what} failed on ${redactUrl(where)}: ${redactText(text)}. Check that Redis is reachable and the credentials are right; the client reconnects by itself.`,
    { cause: err },
  );
}

/** True when `prefix` contains a Redis Cluster hash tag (`{…}` with something between the braces). */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}

/**
 * Closes a connection at once and fails whatever it still had queued. ioredis leaves queued commands
 * pending forever when `disconnect()` is called while it is reconnecting (its close handler, which
 * fails them, has already run), so they are failed here the way ioredis itself does.
 */
export function dropConnection(conn: Redis | Cluster): void {
  conn.disconnect();
  const flush = (conn as unknown as { flushQueue?: (err: Error) => void }).flushQueue;
  if (conn.status !== 'end' && typeof flush === 'function')
    flush.call(conn, new Error('Connection is closed.'));
}
