import { MachineryError } from '../errors.js';
import type { ConcurrencyStore } from '../flow/concurrency-limits.js';
import type { FlowControl } from '../flow/flow-control.js';
import { type RateLimitRule, type RateLimitStore, WAKE_GRACE_MS } from '../flow/rate-limits.js';
import type { UniqueStore } from '../flow/unique-tasks.js';

/** Wake-up times swept once this many are held, so abandoned ones do not pile up. */
const SWEEP_AT = 10_000;

/**
 * The in-process "server" behind {@link MemoryFlowControl}; share it between instances of one process
 * as two connections to Redis would share keys.
 */
export class MemoryFlowControlStore {
  /** @internal Logged starts (the latest each may begin) within the window, oldest first, per rate-limit key. */
  readonly logs = new Map<string, { at: number; uuid: string }[]>();
  /** @internal The end of the wait line per rate-limit key. */ readonly lines = new Map<string, number>();
  /** @internal Wake-up time per `key \0 uuid`. */ readonly wakes = new Map<
    string,
    { at: number; until: number }
  >();
  /** @internal Lease deadline per holder, per key. */ readonly slots = new Map<
    string,
    Map<string, number>
  >();
  /** @internal Claimed unique keys. */ readonly claims = new Map<string, { uuid: string; until: number }>();
}

/** Options for {@link MemoryFlowControl}. */
export interface MemoryFlowControlOptions {
  store?: MemoryFlowControlStore;
}

/**
 * Rate limits, concurrency limits and unique tasks in one process: for tests, embedded use and
 * single-process deployments. Processes do not see each other's; use `RedisFlowControl` from
 * `@machinery/backend-redis` across processes.
 *
 * @example
 * ```ts
 * const server = new Server({ broker: new MemoryBroker(), flow: new MemoryFlowControl() })
 * ```
 */
export class MemoryFlowControl implements FlowControl {
  readonly rateLimits: RateLimitStore;
  readonly concurrency: ConcurrencyStore;
  readonly unique: UniqueStore;
  private closed = false;

  constructor(options: MemoryFlowControlOptions = {}) {
    const store = options.store ?? new MemoryFlowControlStore();

    this.rateLimits = {
      acquire: async (key: string, uuid: string, rule: RateLimitRule, withdrawMs?: number) => {
        this.assertOpen();
        const now = Date.now();
        const wakeKey = `${key}\0${uuid}`;
        const wake = store.wakes.get(wakeKey);
        if (wake !== undefined && wake.until > now && now < wake.at) return Math.ceil(wake.at - now);
        let log = store.logs.get(key);
        if (log === undefined) {
          log = [];
          store.logs.set(key, log);
        }
        // Starts in order of time: drop those that left the window.
        let gone = 0;
        while (gone < log.length && (log[gone]?.at as number) <= now - rule.perMs) gone++;
        if (gone > 0) log.splice(0, gone);
        if (withdrawMs !== undefined) withdraw(log, uuid, now - withdrawMs);
        const margin = rule.startWithinMs ?? 0;
        if (log.length < rule.max) {
          insertSorted(log, { at: now + margin, uuid });
          store.wakes.delete(wakeKey);
          return 0;
        }
        const roomAt = (log[0]?.at as number) + rule.perMs;
        const at = Math.max(store.lines.get(key) ?? 0, roomAt);
        store.lines.set(key, at + (rule.perMs + margin) / rule.max);
        if (store.wakes.size >= SWEEP_AT) sweep(store.wakes, now);
        store.wakes.set(wakeKey, { at, until: at + WAKE_GRACE_MS });
        return Math.max(1, Math.ceil(at - now));
      },
    };

    this.concurrency = {
      acquire: async (key, holder, max, leaseMs) => {
        this.assertOpen();
        const now = Date.now();
        let holders = store.slots.get(key);
        if (holders === undefined) {
          holders = new Map();
          store.slots.set(key, holders);
        }
        sweep(holders, now);
        if (!holders.has(holder) && holders.size >= max) return false;
        holders.set(holder, now + leaseMs);
        return true;
      },
      renew: async (key, holder, leaseMs) => {
        this.assertOpen();
        const now = Date.now();
        const holders = store.slots.get(key);
        const until = holders?.get(holder);
        if (holders === undefined || until === undefined || until <= now) return false;
        holders.set(holder, now + leaseMs);
        return true;
      },
      release: async (key, holder) => {
        this.assertOpen();
        const holders = store.slots.get(key);
        if (holders === undefined) return;
        holders.delete(holder);
        if (holders.size === 0) store.slots.delete(key);
      },
    };

    this.unique = {
      claim: async (key, uuid, ttlMs) => {
        this.assertOpen();
        const now = Date.now();
        const claim = store.claims.get(key);
        if (claim !== undefined && claim.until > now) return claim.uuid;
        store.claims.set(key, { uuid, until: now + ttlMs });
        return uuid;
      },
      release: async (key, uuid) => {
        this.assertOpen();
        if (store.claims.get(key)?.uuid === uuid) store.claims.delete(key);
      },
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new MachineryError('ERR_CLOSED', 'The memory flow control is closed.');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Inserts `start` into the `log` ascending by time (a start logged with a longer margin may precede later ones). */
function insertSorted(log: { at: number; uuid: string }[], start: { at: number; uuid: string }): void {
  let i = log.length;
  while (i > 0 && (log[i - 1]?.at as number) > start.at) i--;
  log.splice(i, 0, start);
}

/** Removes the latest start of `uuid` logged at or after `since` (a start its task did not use). */
function withdraw(log: { at: number; uuid: string }[], uuid: string, since: number): void {
  for (let i = log.length - 1; i >= 0; i--) {
    const start = log[i] as { at: number; uuid: string };
    if (start.at < since) return;
    if (start.uuid === uuid) {
      log.splice(i, 1);
      return;
    }
  }
}

/** Drops the entries of `map` whose deadline passed. */
function sweep<K>(map: Map<K, number | { until: number }>, now: number): void {
  for (const [key, value] of map) {
    if ((typeof value === 'number' ? value : value.until) <= now) map.delete(key);
  }
}
