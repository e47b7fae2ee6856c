import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { fromWire, type TaskResult } from '../arg.js';
import { encodeSignatureCompact } from '../codec.js';
import { errorText, invalidArgument, MachineryError, TaskTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import { tuple } from '../task.js';
import type { TaskExecutor, TaskRun } from '../task-run.js';
import { PoolThread, type PoolThreadEvents } from './pool-thread.js';
import type { ThreadPoolOptions } from './thread-pool-options.js';
import {
  type CancelMessage,
  fromThrownError,
  type RunMessage,
  type ThreadMessage,
  type ThrownError,
} from './thread-protocol.js';

/** One task given to the pool: queued until a thread is free, then running on it. */
interface Job {
  readonly id: number;
  readonly run: TaskRun;
  readonly timeoutMs: number | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
  thread: PoolThread | undefined;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

/** Tasks sent to one thread at a time: one running, one waiting there to start at once after it. */
const PER_THREAD = 2;

/** How long a thread that failed to start waits before the pool tries again. */
const RESPAWN_DELAY_MS = 1000;

/** The JavaScript value of a thread's results, as the task function returned it. */
function returnedValue(results: readonly TaskResult[]): unknown {
  const values = results.map((r) => fromWire(r.type, r.value));
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : tuple(...values);
}

function moduleHref(module: URL | string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') {
    throw invalidArgument(
      "The thread pool needs the module defining its tasks: pool: { module: new URL('./tasks.js', import.meta.url) }.",
    );
  }
  if (/^(file|data):/.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

/**
 * Runs tasks in `worker_threads`, one task per thread at a time, on behalf of a Worker (which holds the
 * deliveries and renews their leases from its own, never-blocked thread). A task over its time limit,
 * or aborted while it runs (worker stop, revocation, a middleware's decision), has its thread
 * terminated and replaced; one aborted while it waits in a thread is skipped there. A thread that dies fails its task with `ERR_TASK_CRASHED` or `ERR_TASK_OUT_OF_MEMORY`,
 * which the worker stores and retries as any failure: no delivery is lost with a thread.
 */
export class ThreadPool implements TaskExecutor {
  /** Number of threads. */
  readonly size: number;
  private readonly module: string;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly logger: Logger;
  /** Threads ready to run tasks (not starting, not terminating). */
  private readonly threads = new Set<PoolThread>();
  /** Every thread alive, starting and terminating ones too. */
  private readonly all = new Set<PoolThread>();
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, Job>();
  private readonly starting = new Map<PoolThread, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly respawns = new Set<NodeJS.Timeout>();
  private readonly events: PoolThreadEvents;
  private nextId = 1;
  private open = false;

  constructor(options: ThreadPoolOptions, logger: Logger) {
    const size = options.threads ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw invalidArgument(`The thread pool needs an integer number of threads ≥ 1, got ${size}.`);
    }
    this.size = size;
    this.module = moduleHref(options.module);
    this.resourceLimits = options.resourceLimits;
    this.logger = logger;
    this.events = {
      ready: (thread) => this.onReady(thread),
      result: (thread, id, results) => this.onResult(thread, id, results),
      error: (thread, id, error) => this.onError(thread, id, error),
      message: (message) => this.onMessage(message),
      exit: (thread, code, error) => this.onExit(thread, code, error),
    };
  }

  /**
   * Starts the threads and resolves once each has loaded the task module. No-op while open.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` when the module cannot be loaded.
   */
  async start(): Promise<void> {
    if (this.open) return;
    this.open = true;
    const ready = Array.from(
      { length: this.size },
      () => new Promise<void>((resolve, reject) => this.starting.set(this.spawn(), { resolve, reject })),
    );
    try {
      await Promise.all(ready);
    } catch (err) {
      await this.close();
      throw invalidArgument(
        `The thread pool could not load its task module ${this.module}: ${errorText(err)}. Check the path, and that the module loads on its own in plain Node (JavaScript, not TypeScript sources).`,
        err,
      );
    }
    this.logger.info({ threads: this.size, module: this.module }, 'thread pool started');
  }

  /** Runs `run`'s task on a free thread (queued until one is); `timeoutMs` counts from its start there. */
  execute(run: TaskRun, timeoutMs: number | undefined): Promise<unknown> {
    if (!this.open) {
      return Promise.reject(
        new MachineryError(
          'ERR_CLOSED',
          'The thread pool is not running: start the worker before it runs tasks.',
        ),
      );
    }
    return new Promise<unknown>((resolve, reject) => {
      const signal = run.signal;
      if (signal.aborted) return reject(signal.reason);
      const job: Job = {
        id: this.nextId++,
        run,
        timeoutMs,
        resolve,
        reject,
        onAbort: () => this.abort(job),
        thread: undefined,
        timer: undefined,
        settled: false,
      };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Terminates every thread; a task still queued or running fails with `ERR_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    this.open = false;
    for (const timer of this.respawns) clearTimeout(timer);
    this.respawns.clear();
    const closed = new MachineryError('ERR_CLOSED', 'The thread pool was closed.');
    for (const job of [...this.queue.splice(0), ...this.running.values()]) this.settle(job, false, closed);
    const threads = [...this.all];
    this.threads.clear();
    this.all.clear();
    await Promise.all(threads.map((t) => t.terminate()));
  }

  private spawn(): PoolThread {
    const thread = new PoolThread(this.module, this.resourceLimits, this.events);
    this.all.add(thread);
    return thread;
  }

  /** The ready thread with the fewest tasks, if one has room for another. */
  private freeThread(): PoolThread | undefined {
    let best: PoolThread | undefined;
    for (const t of this.threads) {
      if (t.jobIds.length === 0) return t;
      if (t.jobIds.length < PER_THREAD && (best === undefined || t.jobIds.length < best.jobIds.length))
        best = t;
    }
    return best;
  }

  /** The job starts running on its thread now: its time limit starts. */
  private begin(job: Job): void {
    if (job.timeoutMs === undefined || job.timeoutMs <= 0) return;
    const timeoutMs = job.timeoutMs;
    job.timer = setTimeout(() => {
      const thread = job.thread;
      this.settle(job, false, new TaskTimeoutError(job.run.signature.name, timeoutMs));
      // Whatever it computes, the thread stops now; a fresh one takes its place.
      if (thread !== undefined) this.retire(thread);
    }, timeoutMs);
  }

  /**
   * Terminates a thread (a task over its limit, or given up): the task waiting behind the one it ran
   * had not started, so it goes back to the front of the queue for another thread.
   */
  private retire(thread: PoolThread): void {
    this.threads.delete(thread);
    const waiting = thread.jobIds.splice(0).flatMap((id) => {
      const job = this.running.get(id);
      return job === undefined || job.settled ? [] : [job];
    });
    for (const job of waiting) {
      this.running.delete(job.id);
      clearTimeout(job.timer);
      job.timer = undefined;
      job.thread = undefined;
    }
    this.queue.unshift(...waiting);
    void thread.terminate();
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const thread = this.freeThread();
      if (thread === undefined) return;
      const job = this.queue.shift() as Job;
      job.thread = thread;
      thread.jobIds.push(job.id);
      this.running.set(job.id, job);
      if (thread.jobIds.length === 1) this.begin(job);
      try {
        const message: RunMessage = {
          type: 'run',
          id: job.id,
          body: encodeSignatureCompact(job.run.signature),
          attempt: job.run.attempt,
          token: job.run.token,
        };
        thread.post(message);
      } catch (err) {
        // A signature that cannot be encoded never reaches the thread.
        this.settle(job, false, err);
      }
    }
  }

  /** Ends a job once: the first of result, error, time limit, abort, thread death or close wins. */
  private settle(job: Job, ok: boolean, value: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    job.run.signal.removeEventListener('abort', job.onAbort);
    this.running.delete(job.id);
    const thread = job.thread;
    if (thread !== undefined) {
      const at = thread.jobIds.indexOf(job.id);
      if (at >= 0) thread.jobIds.splice(at, 1);
      // The next task sent to this thread starts now.
      const next = at === 0 ? this.running.get(thread.jobIds[0] ?? -1) : undefined;
      if (next !== undefined) this.begin(next);
    }
    if (ok) job.resolve(value);
    else job.reject(value);
  }

  /**
   * The worker gave the task up (stop, revocation, middleware): one sent to a thread loses that
   * thread — running, it must stop; waiting there, it cannot be called back otherwise.
   */
  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    const thread = job.thread;
    const running = thread !== undefined && thread.jobIds[0] === job.id;
    this.settle(job, false, job.run.signal.reason);
    if (thread === undefined || queued >= 0) return;
    // Running: only terminating its thread stops it. Waiting there: the thread skips it when told in
    // time, and the task running before it goes on undisturbed.
    if (running) this.retire(thread);
    else thread.post({ type: 'cancel', id: job.id } satisfies CancelMessage);
  }

  private onReady(thread: PoolThread): void {
    const waiter = this.starting.get(thread);
    this.starting.delete(thread);
    waiter?.resolve();
    if (!this.open) return;
    this.threads.add(thread);
    this.dispatch();
  }

  private onResult(thread: PoolThread, id: number, results: readonly TaskResult[]): void {
    const job = this.running.get(id);
    // Not from its thread: a retired thread's late answer, for a task that went to another thread.
    if (job === undefined || job.thread !== thread) return;
    let value: unknown;
    try {
      value = returnedValue(results);
    } catch {
      value = undefined;
    }
    // Stored as the task produced them: converting the value back could change a result's Go type.
    job.run.recordReturn(value, results);
    this.settle(job, true, value);
    this.dispatch();
  }

  private onError(thread: PoolThread, id: number, error: ThrownError): void {
    const job = this.running.get(id);
    if (job === undefined || job.thread !== thread) return;
    this.settle(job, false, fromThrownError(error));
    this.dispatch();
  }

  private onMessage(message: ThreadMessage): void {
    if (message.type !== 'progress' && message.type !== 'log') return;
    const job = this.running.get(message.id);
    if (job === undefined) return;
    if (message.type === 'progress') job.run.progress(message.data);
    else job.run.logger[message.level](message.obj, message.msg);
  }

  private onExit(thread: PoolThread, code: number, error: Error | undefined): void {
    this.all.delete(thread);
    const waiter = this.starting.get(thread);
    if (waiter !== undefined) {
      this.starting.delete(thread);
      waiter.reject(error ?? new Error(`the thread exited with code ${code} before it was ready`));
      return;
    }
    // The first task sent to it was running: it fails. The one waiting behind it had not started.
    const job = this.running.get(thread.jobIds[0] ?? -1);
    if (job !== undefined) this.settle(job, false, this.deathError(job, code, error));
    if (this.threads.has(thread)) this.retire(thread);
    if (!this.open) return;
    if (!thread.isReady) {
      // Its module failed to load after the pool had started (a deploy replaced it?): try again later.
      this.logger.error(
        { err: error, module: this.module },
        `a pool thread could not load the task module: ${errorText(error)}; retrying in ${RESPAWN_DELAY_MS} ms`,
      );
      const timer = setTimeout(() => {
        this.respawns.delete(timer);
        if (this.open) this.spawn();
      }, RESPAWN_DELAY_MS);
      timer.unref();
      this.respawns.add(timer);
      return;
    }
    this.spawn();
  }

  private deathError(job: Job, code: number, error: Error | undefined): MachineryError {
    const name = job.run.signature.name;
    if ((error as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new MachineryError(
        'ERR_TASK_OUT_OF_MEMORY',
        `Task "${name}" went over the thread pool's memory limit (resourceLimits ${JSON.stringify(this.resourceLimits ?? {})}); its thread was replaced. Raise pool.resourceLimits.maxOldGenerationSizeMb or make the task use less memory.`,
        { cause: error },
      );
    }
    const how = error === undefined ? `exit code ${code}` : `uncaught error: ${errorText(error)}`;
    return new MachineryError(
      'ERR_TASK_CRASHED',
      `Task "${name}" ended its worker thread (${how}); the thread was replaced. A task in the thread pool must not call process.exit() or leave errors uncaught.`,
      error === undefined ? undefined : { cause: error },
    );
  }
}
