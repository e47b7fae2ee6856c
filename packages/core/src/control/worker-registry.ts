/** What a live worker tells about itself in each heartbeat. */
export interface WorkerInfo {
  /** Unique per worker instance: `<host>:<pid>:<random>`. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** The queue it consumes. */
  readonly queue: string;
  readonly concurrency: number;
  /** UUIDs of the tasks it runs now. */
  readonly running: readonly string[];
  /** Tasks that ended (success or failure) since it started. */
  readonly processed: number;
  /** Of those, the failures. */
  readonly failed: number;
  /** Names of the tasks it can run. */
  readonly tasks: readonly string[];
  /** Version of `@machinery/core` it runs. */
  readonly version: string;
  /** When it started (ms since the epoch). */
  readonly startedAt: number;
  /** When this heartbeat was sent (ms since the epoch). */
  readonly heartbeatAt: number;
  /** True while its queue is paused. */
  readonly paused: boolean;
}

/** The live workers, shared by every process that uses the same store. */
export interface WorkerRegistry {
  /** Records `info`; the worker counts as live for `ttlMs` unless it beats again. */
  heartbeat(info: WorkerInfo, ttlMs: number): Promise<void>;
  /** Removes a worker at once (it stopped). */
  remove(id: string): Promise<void>;
  /** Every worker whose last heartbeat has not expired, ordered by id. */
  list(): Promise<WorkerInfo[]>;
}
