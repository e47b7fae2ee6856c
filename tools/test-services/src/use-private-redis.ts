import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { PrivateRedis } from './private-redis.js';
import { rawClient } from './redis.js';

/** A test file's own redis-server and a plain client to it, ready inside the file's tests. */
export interface PrivateRedisForFile {
  /** `redis://127.0.0.1:<port>` of the file's server. */
  readonly url: string;
  /** A plain ioredis client to it, for setting up and inspecting keys. */
  readonly raw: Redis;
  /** Stops the server and starts a new one on the same port (its data is gone). */
  restart(): Promise<void>;
  /** Calls per command since the last `CONFIG RESETSTAT` (`INFO commandstats`), by command name. */
  calls(): Promise<Record<string, number>>;
}

/**
 * Starts a redis-server of the test file's own before its tests and stops it after them: where
 * commands are counted without other traffic blurring them, and connections can be killed without
 * touching anyone else. Call it at the top level of the file.
 */
export function usePrivateRedis(): PrivateRedisForFile {
  let server: PrivateRedis | undefined;
  let raw: Redis | undefined;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    raw = rawClient(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('usePrivateRedis: use it inside a test or a hook.');
    return value;
  };
  return {
    get url() {
      return ready(server).url;
    },
    get raw() {
      return ready(raw);
    },
    restart() {
      return ready(server).restart();
    },
    async calls() {
      const info = await ready(raw).info('commandstats');
      const out: Record<string, number> = {};
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2]);
      return out;
    },
  };
}
