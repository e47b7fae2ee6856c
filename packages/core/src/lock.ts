/**
 * A cluster-wide lock with expiry, used by the periodic scheduler so that exactly one process fires
 * each tick. A third-party lock implements this and runs `lockSuite` from `@machinery/testing`.
 */
export interface Lock {
  /**
   * Takes `key` for `ttlMs` unless someone holds it. Resolves `true` for exactly one caller until the
   * lock expires or is released.
   */
  acquire(key: string, ttlMs: number): Promise<boolean>;
  /** Releases `key` early. */
  release(key: string): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}
