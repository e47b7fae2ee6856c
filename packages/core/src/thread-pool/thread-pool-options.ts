import type { ResourceLimits } from 'node:worker_threads';

/**
 * Runs a worker's tasks in `worker_threads` (`server.worker({ pool: { module } })`): a CPU-bound task
 * no longer blocks the worker's event loop (its lease renewals, its other tasks), it can be stopped
 * hard at its time limit, its memory can be bounded, and the worker uses more than one core.
 */
export interface ThreadPoolOptions {
  /**
   * The module defining the tasks, as a `file:` URL or a path: every thread imports it and runs the
   * `defineTask` definitions it exports (as named exports, or in an exported array). Register the same
   * definitions on the server, as usual — the worker looks tasks up there first.
   *
   * @example `new URL('./tasks.js', import.meta.url)`
   */
  module: URL | string;
  /** Number of threads (default: `os.availableParallelism()`, one per core). */
  threads?: number;
  /**
   * Limits of each thread (Node's `resourceLimits`), e.g. `{ maxOldGenerationSizeMb: 256 }`. A task
   * that goes over them fails with `ERR_TASK_OUT_OF_MEMORY`, and its thread is replaced.
   */
  resourceLimits?: ResourceLimits;
}
