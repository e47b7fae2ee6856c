import { trackRedisConnectionErrors } from '@machinery/redis-connection';
import { Cluster, type Redis } from 'ioredis';

/**
 * A dedicated connection for blocking waits, duplicated from `client`: commands wait through
 * outages (no retry limit), and nothing is auto-pipelined behind a blocking command. Its connection
 * errors are redacted like those of the client the broker creates.
 */
export function duplicateForBlocking(client: Redis | Cluster): Redis | Cluster {
  const conn =
    client instanceof Cluster
      ? client.duplicate(undefined, {
          enableAutoPipelining: false,
          redisOptions: {
            ...client.options.redisOptions,
            maxRetriesPerRequest: null,
            replyMapping: 'legacy',
          },
        })
      : client.duplicate({
          enableAutoPipelining: false,
          maxRetriesPerRequest: null,
          replyMapping: 'legacy',
        });
  trackRedisConnectionErrors(conn);
  return conn;
}
