/** The Redis keys of one queue. */
export interface QueueKeys {
  /** The list producers `RPUSH` onto (Go's layout: the routing key itself, plus the prefix). */
  readonly queue: string;
  /** Sorted set: lease token → deadline (Redis server time, ms). */
  readonly leases: string;
  /** Hash: lease token → `<attempt>:<body>`. */
  readonly inflight: string;
  /** Sorted set: consumer id → heartbeat deadline; a consumer past it is dead and its staging list is returned. */
  readonly consumers: string;
  /** Prefix of each consumer's staging list (`<staging><consumerId>`), the target of its blocking `BLMOVE`. */
  readonly staging: string;
  /**
   * The lists of priorities `maxPriority` down to 1 (`<queue>:priority:<p>`), highest first, as the
   * scripts take them after their fixed keys; empty without priorities. Priority 0 is `queue`.
   */
  readonly levels: readonly string[];
  /** Pub/sub channel rung when a task lands on a priority list, so idle consumers stop waiting on `queue`. */
  readonly bell: string;
}

/** The list of priority `priority` (≥ 1) of the queue list `list`; the scripts build the same name. */
export function priorityList(list: string, priority: number): string {
  return `${list}:priority:${priority}`;
}

/**
 * Key names of a broker. With an empty prefix the task lists and the delayed set are exactly Go
 * Machinery's keys; the broker's own bookkeeping lives beside them under `<queue>:…` and `machinery:…`.
 */
export class Keys {
  /** Sorted set of delayed tasks scored by ETA in Unix nanoseconds. */
  readonly delayed: string;
  /** Hash: SHA-1 of a requeued body → deliveries so far, so attempts survive requeues and lost leases. */
  readonly attempts: string;
  /** List of dead letters (JSON `{queue, reason, at, body}`), oldest first. */
  readonly dead: string;
  private readonly cache = new Map<string, QueueKeys>();

  constructor(
    readonly prefix: string,
    delayedTasksKey: string,
    /** Highest priority level (0: no priorities). */
    readonly maxPriority = 0,
  ) {
    this.delayed = prefix + delayedTasksKey;
    this.attempts = `${prefix}machinery:attempts`;
    this.dead = `${prefix}machinery:dead_letters`;
  }

  /**
   * The list a task of `priority` waits in on `queue`: the queue list for 0 (and without priorities),
   * else its priority list, a priority above `maxPriority` counting as `maxPriority` (as in RabbitMQ).
   */
  listOf(queue: string, priority: number): string {
    const keys = this.queue(queue);
    if (this.maxPriority === 0 || !(priority >= 1)) return keys.queue;
    return priorityList(keys.queue, Math.min(Math.floor(priority), this.maxPriority));
  }

  /** The keys of `queue`. */
  queue(queue: string): QueueKeys {
    let keys = this.cache.get(queue);
    if (!keys) {
      const list = this.prefix + queue;
      keys = {
        queue: list,
        leases: `${list}:leases`,
        inflight: `${list}:inflight`,
        consumers: `${list}:consumers`,
        staging: `${list}:staging:`,
        levels: Array.from({ length: this.maxPriority }, (_, i) => priorityList(list, this.maxPriority - i)),
        bell: `${list}:bell`,
      };
      this.cache.set(queue, keys);
    }
    return keys;
  }
}
