import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * A Lua script run by `EVALSHA`, falling back to `EVAL` (which also caches it) when the server does not
 * know it yet — after a restart or a `SCRIPT FLUSH`. Unlike `defineCommand`, it adds nothing to a
 * client the user passed in.
 */
export class LuaScript {
  /** SHA-1 of the source, as Redis names cached scripts. */
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script with `keys` and `args` on `client`. */
  async run(
    client: Redis | Cluster,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
