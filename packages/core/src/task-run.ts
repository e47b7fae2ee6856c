import type { TaskResult } from './arg.js';
import { taskResults } from './argument-conversion.js';
import type { Delivery } from './broker.js';
import { errorText, invalidArgument, MachineryError, TaskTimeoutError } from './errors.js';
import { childLogger, type Logger } from './logger.js';
import type { RunOutcome, TaskMiddlewareContext } from './middleware.js';
import type { Headers, Signature } from './signature.js';
import type { AnyTaskDefinition } from './task-registry.js';

/** What a {@link TaskRun} needs from the worker that runs it. */
export interface TaskRunHost {
  /** Parent of the run's child logger. */
  readonly logger: Logger;
  /** Task code called `progress(data)`. */
  progress(run: TaskRun, data: unknown): void;
}

/**
 * Runs task functions away from the worker's event loop (the thread pool). It owns the time limit of
 * what it runs — `timeoutMs` counts from the moment the task starts, not from when it was queued — and
 * may record the outcome itself with {@link TaskRun.recordReturn}, to store results exactly as the
 * task produced them.
 */
export interface TaskExecutor {
  /** Runs `run`'s task; resolves with what it returned, rejects with what it threw. */
  execute(run: TaskRun, timeoutMs: number | undefined): Promise<unknown>;
}

/** How a run ended; `undefined` while undecided. */
export type RunStatus = RunOutcome['status'];

const NO_HEADERS: Readonly<Headers> = Object.freeze({});
const NO_RESULTS: readonly TaskResult[] = Object.freeze([]);

/**
 * One delivery on its way through a worker: the task's context (`this` in a task function), the
 * middleware's context, the timeout and abort of the task function, and the outcome. The outcome is
 * kept in fields, not an object, and the `AbortSignal` and child logger are created only when read:
 * the worker runs tens of thousands of tasks a second, and most never read them.
 */
export class TaskRun implements TaskMiddlewareContext {
  /** The registered task; set by the pipeline once the delivery passed its guards. */
  task!: AnyTaskDefinition;
  /** How the run ended, `undefined` while undecided. */
  status: RunStatus | undefined;
  /** `succeeded`: what the task returned and the results to store. */
  value: unknown;
  results: readonly TaskResult[] = NO_RESULTS;
  /** `failed`: what was thrown, and whether retries are ruled out. */
  error: unknown;
  finalFailure = false;
  /** `handedBack`: when the delivery comes again. */
  delayMs = 0;
  /** Time spent in the task function, in ms (0 when it did not run). */
  durationMs = 0;
  /** The task function was entered (or refused for its arguments): `next()` may not run it again. */
  entered = false;
  /** Where the worker's `RunningTasks` keeps this run; -1 when it holds none. */
  slot = -1;

  private controller: AbortController | undefined;
  private childLogger: Logger | undefined;
  private stopWaiting: ((reason: unknown) => void) | undefined;
  private abortReason: unknown;
  private aborted = false;

  constructor(
    readonly delivery: Delivery,
    private readonly host: TaskRunHost,
  ) {}

  get signature(): Signature {
    return this.delivery.signature;
  }

  get attempt(): number {
    return this.delivery.attempt;
  }

  get token(): string {
    return this.delivery.token;
  }

  get headers(): Readonly<Headers> {
    return this.delivery.signature.headers ?? NO_HEADERS;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get logger(): Logger {
    this.childLogger ??= childLogger(this.host.logger, {
      taskUUID: this.signature.uuid,
      taskName: this.signature.name,
    });
    return this.childLogger;
  }

  get outcome(): RunOutcome | undefined {
    switch (this.status) {
      case 'succeeded':
        return { status: 'succeeded', value: this.value, results: this.results };
      case 'failed':
        return { status: 'failed', error: this.error, final: this.finalFailure };
      case 'handedBack':
        return { status: 'handedBack', delayMs: this.delayMs };
      default:
        return undefined;
    }
  }

  progress(data: unknown): void {
    this.host.progress(this, data);
  }

  succeed(value?: unknown): void {
    const results = taskResults(value);
    this.status = 'succeeded';
    this.value = value;
    this.results = results;
    this.abort(
      new MachineryError('ERR_TASK_ABORTED', `Task "${this.signature.name}" was ended by a middleware.`),
    );
  }

  fail(reason: string | Error): void {
    const error = typeof reason === 'string' ? new MachineryError('ERR_TASK_ABORTED', reason) : reason;
    this.status = 'failed';
    this.error = error;
    this.finalFailure = true;
    this.abort(error);
  }

  handBack(delayMs = 0): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw invalidArgument(`handBack() needs a delay in ms ≥ 0, got ${delayMs}.`);
    }
    this.status = 'handedBack';
    this.delayMs = delayMs;
    this.abort(
      new MachineryError('ERR_TASK_ABORTED', `Task "${this.signature.name}" was handed back to the broker.`),
    );
  }

  /**
   * The worker gives the task back because it is stopping: unless the run already has an outcome, it
   * ends `handedBack` (another worker runs it) and a running task function is aborted with `reason`.
   */
  withdraw(reason: unknown): void {
    if (this.status === undefined) {
      this.status = 'handedBack';
      this.delayMs = 0;
    }
    this.abort(reason);
  }

  /**
   * Records what the task function returned, unless the outcome was decided meanwhile. `results`, when
   * given, are stored as they are (a thread pool's task converted its value already).
   */
  recordReturn(value: unknown, results?: readonly TaskResult[]): void {
    if (this.status !== undefined) return;
    try {
      results ??= taskResults(value);
    } catch (err) {
      this.recordFinalFailure(
        `Task "${this.signature.name}" returned a value that cannot be stored: ${errorText(err)}`,
      );
      return;
    }
    this.status = 'succeeded';
    this.value = value;
    this.results = results;
  }

  /** Records a failed attempt (retry rules apply), unless the outcome was decided meanwhile. */
  recordThrow(error: unknown): void {
    if (this.status !== undefined) return;
    this.status = 'failed';
    this.error = error;
  }

  /** A middleware threw: the attempt failed with its error, whatever the run came to (retry rules apply). */
  recordMiddlewareError(error: unknown): void {
    this.status = 'failed';
    this.error = error;
    this.finalFailure = false;
  }

  /** Records a failure no retry can mend (bad arguments, an unstorable value), unless decided meanwhile. */
  recordFinalFailure(reason: string): void {
    if (this.status !== undefined) return;
    this.status = 'failed';
    this.error = new MachineryError('ERR_INVALID_ARGUMENT', reason);
    this.finalFailure = true;
  }

  /**
   * Aborts the task function: its signal fires and `invoke()` rejects with `reason` at once. The task
   * function may keep running if it ignores the signal; the worker no longer waits for it.
   */
  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.stopWaiting?.(reason);
  }

  /**
   * Calls the task function with `args` (`this` = this run), bounded by `timeoutMs`; with an
   * `executor`, has it run the task instead (the executor then enforces `timeoutMs`).
   */
  invoke(args: unknown[], timeoutMs: number | undefined, executor?: TaskExecutor): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    if (executor === undefined && timeoutMs !== undefined && timeoutMs > 0) {
      timer = setTimeout(() => this.abort(new TaskTimeoutError(this.signature.name, timeoutMs)), timeoutMs);
    }
    return new Promise<unknown>((resolve, reject) => {
      const settle = (ok: boolean, value: unknown) => {
        if (timer) clearTimeout(timer);
        this.stopWaiting = undefined;
        if (ok) resolve(value);
        else reject(value);
      };
      this.stopWaiting = (reason) => settle(false, reason);
      if (this.aborted) return settle(false, this.abortReason);
      try {
        const value =
          executor === undefined
            ? (this.task.fn as (...a: unknown[]) => unknown).apply(this, args)
            : executor.execute(this, timeoutMs);
        Promise.resolve(value).then(
          (v) => settle(true, v),
          (e) => settle(false, e),
        );
      } catch (err) {
        settle(false, err);
      }
    });
  }
}
