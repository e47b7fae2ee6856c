import type { ConcurrencyStore } from './concurrency-limits.js';
import type { RateLimitStore } from './rate-limits.js';
import type { UniqueStore } from './unique-tasks.js';

/**
 * The stores behind flow control (`new Server({ flow })`): rate limits and concurrency limits, read by
 * workers, and unique tasks, read by producers. Each is optional; a task that declares a limit needs its
 * store (`register` says so). `MemoryFlowControl` (core) holds all three in one process;
 * `RedisFlowControl` (`@machinery/backend-redis`) shares them across processes;
 * `MemcacheFlowControl` (`@machinery/backend-memcache`) has unique tasks only.
 */
export interface FlowControl {
  /** Where rate limits are counted. */
  readonly rateLimits?: RateLimitStore | undefined;
  /** Where concurrency slots are held. */
  readonly concurrency?: ConcurrencyStore | undefined;
  /** Where unique keys are claimed. */
  readonly unique?: UniqueStore | undefined;
  /** Releases connections and timers. Idempotent. The Server closes it in `close()`. */
  close(): Promise<void>;
}
