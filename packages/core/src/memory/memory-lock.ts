import type { Lock } from '../lock.js';

/** The in-process "server" behind {@link MemoryLock}; share it between instances of one process. */
export class MemoryLockStore {
  /** @internal */ readonly held = new Map<string, number>();
}

/** Options for {@link MemoryLock}. */
export interface MemoryLockOptions {
  store?: MemoryLockStore;
}

/**
 * An in-process lock with expiry. It makes one process's schedules fire once per tick; across
 * processes use a shared lock such as `RedisLock` from `@machinery/backend-redis`.
 */
export class MemoryLock implements Lock {
  private readonly store: MemoryLockStore;

  constructor(options: MemoryLockOptions = {}) {
    this.store = options.store ?? new MemoryLockStore();
  }

  async acquire(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.store.held.get(key);
    if (until !== undefined && until > now) return false;
    this.store.held.set(key, now + ttlMs);
    return true;
  }

  async release(key: string): Promise<void> {
    this.store.held.delete(key);
  }

  async close(): Promise<void> {}
}
