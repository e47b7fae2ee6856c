import { type Cluster, Redis } from 'ioredis';

/** The shared test Redis (never flushed: every test works under its own key prefix). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The key prefix of a test namespace: a hash tag, so every key of the test shares one Cluster slot. */
export const prefixOf = (namespace: string): string => `{${namespace}}:`;

/** Deletes every key starting with `prefix` (SCAN, never FLUSHDB), on every master of a Cluster. */
export async function deleteKeys(client: Redis | Cluster, prefix: string): Promise<void> {
  if (!(client instanceof Redis)) {
    await Promise.all(client.nodes('master').map((node) => deleteKeys(node, prefix)));
    return;
  }
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // One key per DEL: on a Cluster node, keys of one call must share a slot.
    await Promise.all(keys.map((key) => client.del(key)));
  } while (cursor !== '0');
}

/** A client for test set-up and inspection; connection errors (a server restarting) are expected. */
export function rawClient(url: string): Redis {
  const client = new Redis(url);
  client.on('error', () => {});
  return client;
}
