import { Cluster, type Redis } from 'ioredis';

/**
 * A dedicated connection for blocking waits, duplicated from `client`: commands wait through
 * outages (no retry limit), and nothing is auto-pipelined behind a blocking command.
 */
export function duplicateForBlocking(client: Redis | Cluster): Redis | Cluster {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      enableAutoPipelining: false,
      redisOptions: { ...client.options.redisOptions, maxRetriesPerRequest: null, replyMapping: 'legacy' },
    });
  }
  return client.duplicate({
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    replyMapping: 'legacy',
  });
}
