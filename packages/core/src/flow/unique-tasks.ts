/**
 * Makes a task unique for a while: sending it again with the same key within `forMs` of the first send
 * publishes nothing and returns the first task's result. Needs a {@link UniqueStore} (`flow.unique` on
 * the producer's Server).
 *
 * @example
 * ```ts
 * const welcome = defineTask('welcome', (userId: string) => mail(userId), {
 *   unique: { forMs: 60_000, key: (userId) => userId },
 * })
 * const first = await server.send(welcome.signature('u1'))
 * const again = await server.send(welcome.signature('u1')) // again.taskUUID === first.taskUUID
 * ```
 */
export interface UniqueTask<A extends unknown[] = unknown[]> {
  /** How long, in ms, a send claims its key (> 0). */
  forMs: number;
  /**
   * The key from the task's arguments; default: the arguments' JSON (same arguments, same key). Keys
   * are per task name.
   */
  key?(...args: A): string;
}

/**
 * Claims of unique keys, shared by every producer that uses the same store. Implemented in core by
 * `MemoryFlowControl`, on Redis by `RedisFlowControl` (`@machinery/backend-redis`, `SET NX PX`) and on
 * memcached by `MemcacheFlowControl` (`@machinery/backend-memcache`, `add`); a third party runs
 * `flowControlSuite` from `@machinery/testing`.
 */
export interface UniqueStore {
  /**
   * Claims `key` for `uuid` for `ttlMs` unless an unexpired claim exists. Resolves with the UUID that
   * holds the claim: `uuid` itself when it was claimed now, the first claimant's otherwise. Atomic
   * across processes.
   */
  claim(key: string, uuid: string, ttlMs: number): Promise<string>;
  /** Drops the claim of `key` if `uuid` holds it (a send that failed gives its key back). */
  release(key: string, uuid: string): Promise<void>;
}
