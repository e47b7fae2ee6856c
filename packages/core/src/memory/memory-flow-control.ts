import { MachineryError } from '../errors.js';
import type { ConcurrencyStore } from '../flow/concurrency-limits.js';
import type { FlowControl } from '../flow/flow-control.js';
import { type RateLimitRule, type RateLimitStore, RESERVATION_GRACE_MS } from '../flow/rate-limits.js';
import type { UniqueStore } from '../flow/unique-tasks.js';

/** Reservations swept once this many are held, so abandoned ones do not pile up. */
const SWEEP_AT = 10_000;

/**
 * The in-process "server" behind {@link MemoryFlowControl}; share it between instances of one process
 * as two connections to Redis would share keys.
 */
export class MemoryFlowControlStore {
  /** @internal Theoretical arrival time per rate-limit key. */ readonly tats = new Map<string, number>();
  /** @internal Reserved start per `key \0 uuid`. */ readonly reservations = new Map<
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
      acquire: async (key: string, uuid: string, rule: RateLimitRule) => {
        this.assertOpen();
        const now = Date.now();
        const reservationKey = `${key}\0${uuid}`;
        const reservation = store.reservations.get(reservationKey);
        if (reservation !== undefined && reservation.until > now) {
          if (now < reservation.at) return Math.ceil(reservation.at - now);
          store.reservations.delete(reservationKey);
          return 0;
        }
        const tat = Math.max(store.tats.get(key) ?? now, now);
        const allowAt = tat - (rule.burst - 1) * rule.intervalMs;
        store.tats.set(key, tat + rule.intervalMs);
        if (now >= allowAt) return 0;
        if (store.reservations.size >= SWEEP_AT) sweep(store.reservations, now);
        store.reservations.set(reservationKey, { at: allowAt, until: allowAt + RESERVATION_GRACE_MS });
        return Math.ceil(allowAt - now);
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

/** Drops the entries of `map` whose deadline passed. */
function sweep<K>(map: Map<K, number | { until: number }>, now: number): void {
  for (const [key, value] of map) {
    if ((typeof value === 'number' ? value : value.until) <= now) map.delete(key);
  }
}
