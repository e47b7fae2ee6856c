import type { Backend } from './backend.js';
import type { Broker } from './broker.js';
import type { ControlOptions, ControlPlane } from './control/control-plane.js';
import type { FlowControl } from './flow/flow-control.js';
import type { Logger } from './logger.js';
import type { TaskMiddleware } from './middleware.js';
import type { RetryStrategy } from './retry.js';
import type { Sender } from './sender.js';
import type { TaskRegistry } from './task-registry.js';
import type { ThreadPoolOptions } from './thread-pool/thread-pool-options.js';

/** Options for a Worker (`server.worker(options)`). */
export interface WorkerOptions {
  /** Queue to consume (default: the broker's default queue). */
  queue?: string;
  /**
   * Tasks run at once (default 10; with a thread pool, twice its threads, so that a thread finding its
   * next task waiting never waits for the previous outcome to be stored).
   */
  concurrency?: number;
  /**
   * Run tasks in a pool of `worker_threads` instead of this thread: for CPU-bound tasks, which would
   * block this event loop (lease renewals, other tasks) and use one core only. The tasks come from a
   * module every thread imports; `timeoutMs` becomes a hard limit (the thread is terminated), memory
   * can be limited per thread. See the README section "Thread pool".
   *
   * @example
   * ```ts
   * server.worker({ pool: { module: new URL('./tasks.js', import.meta.url), threads: 4 } })
   * ```
   */
  pool?: ThreadPoolOptions;
  /**
   * Without a thread pool: warn (once per task) when the event loop was blocked for longer than this
   * many ms while tasks ran, naming them. Default: a third of the broker's lease (`capabilities.leaseMs`,
   * the Redis broker's `leaseMs`), past which a lease renewal may come too late and another worker run
   * the task again; off for brokers without such a lease. `0` turns it off.
   */
  blockedLoopWarningMs?: number;
  /**
   * Deliveries held beyond free slots (default 1): one task waiting locally starts the moment a slot
   * frees, instead of a round trip later. 0 takes only what can start now.
   */
  prefetch?: number;
  /** Default per-task timeout in ms (a task's own `timeoutMs` wins). */
  timeoutMs?: number;
  /** Back-off between retries (default: Go Machinery's Fibonacci seconds). */
  retry?: RetryStrategy;
  /** How long `stop()` waits for running tasks before aborting them (default 30 000 ms). */
  shutdownTimeoutMs?: number;
  /**
   * Handle SIGINT/SIGTERM (default true): the first stops the worker, a second aborts running tasks
   * (they go back to the broker). Once stopped, if nothing else in the process handles that signal, the
   * worker closes the server that created it and raises the signal again, so the process ends as it
   * would have without the handler.
   */
  handleSignals?: boolean;
  /**
   * Which states before the outcome are stored: `'started'` (default) stores `STARTED` as the task
   * starts; `'all'` also stores `RECEIVED` first, Go's full sequence (one more write per task, overwritten
   * at once); `'none'` stores only the outcome. A task refused for bad arguments is stored as `RECEIVED`
   * then `FAILURE` in every mode but `'none'`.
   */
  progressStates?: 'all' | 'started' | 'none';
  /** Acknowledge a redelivered task whose stored state is already final without running it (default true). */
  skipCompletedRedeliveries?: boolean;
  /**
   * How many times a task that no worker here knows is put back for other workers before it is
   * dead-lettered and marked `FAILURE` (default 50, about 25 s of growing pauses, so that a worker
   * that knows the task gets a fair chance). Go Machinery requeues such tasks forever.
   */
  unregisteredTaskRequeues?: number;
  /**
   * `start()` reads one state from the result backend first and fails if no answer comes within this
   * many ms (default 5000), rather than run tasks whose outcomes could not be stored.
   */
  backendCheckTimeoutMs?: number;
  /** Logger (default: the server's). */
  logger?: Logger;
}

/** What a Worker works with; `server.worker()` passes the server's own. */
export interface WorkerDependencies {
  broker: Broker;
  /** Where outcomes are stored; without one they are not stored (and chords cannot run). */
  backend?: Backend | undefined;
  /** The tasks this worker can run. */
  tasks: TaskRegistry;
  /** The send path for callbacks and retries. */
  sender: Sender;
  logger: Logger;
  /** Worker middleware, outermost first. */
  middleware?: readonly TaskMiddleware[] | undefined;
  /** The control plane: revocations, pauses, heartbeats, task events, stored progress (none without it). */
  control?: ControlPlane | undefined;
  /** How the worker uses `control`. */
  controlOptions?: ControlOptions | undefined;
  /** Rate and concurrency limits of tasks are counted here (no flow middleware without it). */
  flow?: FlowControl | undefined;
  /**
   * Called when a signal stopped the worker and nothing else handles it, before the signal is raised
   * again; the Server closes itself (its adapters) here.
   */
  closeOnSignal?: (() => Promise<void>) | undefined;
}
