import type { AdapterContext } from '@machinery/testing';
import { MemcacheBackend, type MemcacheBackendOptions } from '../src/index.js';

/** The memcached the tests use (`node scripts/services.mjs up memcached`). */
export const MEMCACHE_SERVERS = process.env.MEMCACHE_SERVERS ?? '127.0.0.1:11211';

/** A backend for one test: its keys carry the test's namespace. */
export function makeBackend(ctx: AdapterContext, extra: MemcacheBackendOptions = {}): MemcacheBackend {
  return new MemcacheBackend({
    servers: MEMCACHE_SERVERS,
    prefix: `${ctx.namespace}:`,
    // Tests leave keys behind (memcached cannot list them); let them go soon.
    resultsExpireIn: ctx.resultsExpireIn ?? 600,
    ...extra,
  });
}
