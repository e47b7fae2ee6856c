/** What the worker child process runs. */
export interface WorkerConfig {
  system: SystemName;
  queue: string;
  concurrency: number;
  withBackend: boolean;
  /** Completions after which the child reports and exits (drain), or 0 to run until killed. */
  expect: number;
  /** noop: count; latency: record start − sentAt; hang: the first run never finishes (crash test). */
  mode: 'noop' | 'latency' | 'hang';
  redisUrl: string;
  amqpUrl: string;
  /** Only for `machinery-postgres`. */
  postgresUrl?: string;
  /**
   * Only for `machinery`: a `RedisControlPlane` under the run's prefix, with task events on or off
   * (`controlOptions: { events: false }`); absent: no control plane.
   */
  control?: 'events-on' | 'events-off';
}

/** Lines the worker child writes to stdout (JSON). */
export type ChildMessage =
  | { event: 'ready' }
  | { event: 'started'; at: number }
  | { event: 'done'; elapsedMs: number; completed: number; peakRss: number; startLatencies: number[] };

/** The systems compared. */
export type SystemName =
  | 'machinery'
  | 'bullmq'
  | 'bee-queue'
  | 'raw-redis'
  | 'machinery-amqp'
  | 'raw-amqp'
  | 'machinery-postgres';

/** Producer side of a system, in the parent process. */
export interface Producer {
  /** Enqueues `n` no-op tasks in bulk batches. */
  enqueueBulk(n: number, batch: number): Promise<void>;
  /** Sends one task carrying `sentAt`; resolves when it is enqueued. */
  send(sentAt: number): Promise<void>;
  /** Resolves when the task last sent with `sentAt` has a stored result, with the time it was seen. */
  resultOf?(sentAt: number): Promise<number>;
  /** Sends one task that the `hang` worker will block on. */
  sendHang(): Promise<void>;
  /** Removes every key/queue this run created. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

/** A worker that reports progress through `report`. */
export type WorkerRunner = (config: WorkerConfig, report: (m: ChildMessage) => void) => Promise<void>;
