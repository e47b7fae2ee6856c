import type { Cluster, Redis } from 'ioredis';
import type { Carried } from './joint-script.js';

/**
 * Where a Redis delivery offers its acknowledgement to be carried by a Redis backend on the same
 * server, in the script call that stores the task's outcome. A registered symbol, so two copies of
 * this package still agree.
 */
export const ACK_CARRIER: unique symbol = Symbol.for('@machinery/redis-connection.ackCarrier') as never;

/** What a delivery offers under {@link ACK_CARRIER}: its consumer, which carries lease tokens. */
export type CarriedAck = Carried<string>;

/** The acknowledgement a delivery offers to carry, or `undefined` for any other delivery. */
export function carriedAck(delivery: object): CarriedAck | undefined {
  const offer = (delivery as { [ACK_CARRIER]?: CarriedAck })[ACK_CARRIER];
  return offer !== undefined && typeof offer.carrier?.carry === 'function' ? offer : undefined;
}

/**
 * Whether two clients reach the same Redis server: the same client, or two standalone clients with
 * the same address, database and user. Sentinel and Cluster clients count only when they are the
 * same client (their server can change, and a Cluster refuses keys of two slots in one call).
 */
export function sameRedisServer(a: Redis | Cluster, b: Redis | Cluster): boolean {
  if (a === b) return true;
  const x = (a as Redis).options;
  const y = (b as Redis).options;
  if (!x || !y || a.isCluster || b.isCluster) return false;
  if ((x.sentinels?.length ?? 0) > 0 || (y.sentinels?.length ?? 0) > 0) return false;
  return (
    (x.path ?? '') === (y.path ?? '') &&
    (x.host ?? '127.0.0.1') === (y.host ?? '127.0.0.1') &&
    (x.port ?? 6379) === (y.port ?? 6379) &&
    (x.db ?? 0) === (y.db ?? 0) &&
    (x.username ?? '') === (y.username ?? '')
  );
}
